"""Admin forms for vendors: a write-only secret for keys, and formsets that catch duplicates in one submit."""

from __future__ import annotations

from django import forms
from django.core.exceptions import NON_FIELD_ERRORS, ValidationError

from vendors import crypto
from vendors.adapters import adapter_class
from vendors.models import ImageModel, VendorKey


class VendorKeyForm(forms.ModelForm):
    """The secret is typed in, encrypted on save, and never rendered back into the page."""

    secret = forms.CharField(
        required=False,
        strip=True,
        widget=forms.PasswordInput(render_value=False, attrs={"autocomplete": "new-password"}),
        help_text="Required for a new key. Leave blank to keep the stored key.",
    )

    class Meta:
        model = VendorKey
        fields = ["vendor", "label", "secret", "enabled"]

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        if self.instance.pk:
            self.fields["secret"].widget.attrs["placeholder"] = f"stored: {self.instance.masked} (blank keeps it)"

    def clean(self):
        cleaned = super().clean()
        secret = cleaned.get("secret") or ""
        if not secret:
            if not self.instance.pk:
                self.add_error("secret", "Enter the vendor's API key.")
            return cleaned
        cleaned["fingerprint"] = crypto.fingerprint(secret)
        vendor = cleaned.get("vendor") or self._parent_vendor()
        if vendor is not None and vendor.pk:
            taken = VendorKey.objects.filter(vendor=vendor, fingerprint=cleaned["fingerprint"]).exclude(
                pk=self.instance.pk
            )
            if taken.exists():
                self.add_error("secret", f"Vendor {vendor.name!r} already has this key.")
        return cleaned

    def _parent_vendor(self):
        # In the Vendor page inline there is no vendor field; the formset sets vendor_id.
        return self.instance.vendor if self.instance.vendor_id else None

    def save(self, commit=True):
        secret = self.cleaned_data.get("secret")
        if secret:
            self.instance.secret = secret
        return super().save(commit=commit)


class FallbackChoiceField(forms.ModelChoiceField):
    def label_from_instance(self, obj: ImageModel) -> str:
        return f"{obj.name} ({obj.vendor.name}{'' if obj.enabled else ', disabled'})"


class ImageModelForm(forms.ModelForm):
    """The model page: the fallback may be a model of any vendor, named with its vendor; never itself."""

    class Meta:
        model = ImageModel
        fields = [
            "vendor",
            "name",
            "upstream_name",
            "enabled",
            "default_size",
            "size_format",
            "allowed_sizes",
            "allowed_ratios",
            "size_multiple",
            "min_side",
            "max_side",
            "max_megapixels",
            "max_images",
            "input_images",
            "takes_mask",
            "qualities",
            "styles",
            "fallback",
            "fallback_on_content_policy",
            "retention_days",
            "image_cache_seconds",
        ]
        field_classes = {"fallback": FallbackChoiceField}

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        field = self.fields.get("fallback")
        if field is not None:
            choices = ImageModel.objects.select_related("vendor").order_by("name")
            if self.instance.pk:
                choices = choices.exclude(pk=self.instance.pk)
            field.queryset = choices


class ImageModelInlineForm(forms.ModelForm):
    """A row of the Vendor page, which shows a few of the model's fields.

    ``ImageModel.clean()`` files its errors under the field at fault; one the row does not show (a size
    rule, the fallback, the vendor) would be lost or make ``add_error`` fail, so it is shown as an error
    of the row, named after its field.
    """

    def add_error(self, field, error):
        if field is None and isinstance(error, ValidationError) and hasattr(error, "error_dict"):
            error = ValidationError(self._errors_on_shown_fields(error.error_dict))
        super().add_error(field, error)

    def _errors_on_shown_fields(self, error_dict: dict[str, list[ValidationError]]) -> dict[str, list]:
        shown: dict[str, list] = {}
        for field, errors in error_dict.items():
            if field == NON_FIELD_ERRORS or (field in self.fields and not self[field].is_hidden):
                shown.setdefault(field, []).extend(errors)
                continue
            name = self._meta.model._meta.get_field(field).verbose_name.capitalize()
            shown.setdefault(NON_FIELD_ERRORS, []).extend(f"{name}: {message}" for message in ValidationError(errors))
        return shown


class ImageModelInlineFormSet(forms.BaseInlineFormSet):
    """Image models on the Vendor page: only image vendors may have them."""

    def clean(self):
        super().clean()
        kind = getattr(self.instance, "kind", "")
        if not kind:
            return
        try:
            purpose = adapter_class(kind).purpose
        except LookupError:
            return
        if purpose == "image":
            return
        for form in self.forms:
            if (
                form.cleaned_data
                and not form.cleaned_data.get("DELETE")
                and form.has_changed()
                and not form.instance.pk
            ):
                raise ValidationError(
                    f"A {kind} vendor cannot serve image models; add them to an image vendor instead."
                )


class VendorKeyInlineFormSet(forms.BaseInlineFormSet):
    """Keys on the Vendor page: the same key twice in one submit is refused."""

    def clean(self):
        super().clean()
        seen: set[str] = set()
        for form in self.forms:
            data = getattr(form, "cleaned_data", None) or {}
            if data.get("DELETE"):
                continue
            fp = data.get("fingerprint")
            if not fp:
                continue
            if fp in seen:
                form.add_error("secret", "This key is entered twice.")
            seen.add(fp)
