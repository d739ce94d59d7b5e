"""Admin for client keys, the generation ledger, the prompt optimizer's settings and import_env's records."""

from __future__ import annotations

from django import forms
from django.contrib import admin, messages
from django.db.models import Count
from django.http import HttpResponseRedirect
from django.urls import reverse
from django.utils.html import format_html, format_html_join

from imagegen.client_keys import invalidate_client_keys
from imagegen.models import ClientKey, EnvImport, Generation, OptimizerSettings, VendorAttempt, model_names
from proxy.admin import ReadOnlyModelAdmin
from vendors.adapters import chat_kinds
from vendors.models import ImageModel, Vendor

THUMBNAIL = '<img src="{}" alt="" style="height:48px;width:auto" height="48" loading="lazy">'


def thumbnail(image) -> str:
    return format_html(THUMBNAIL, image.path)


LIMIT_FIELDS = ("allowed_models", "requests_per_minute", "max_in_flight", "images_per_day", "expires_at")


class ClientKeyForm(forms.ModelForm):
    class Meta:
        model = ClientKey
        fields = ("name", "enabled", *LIMIT_FIELDS)

    def clean_allowed_models(self):
        names = model_names(self.cleaned_data.get("allowed_models", ""))
        unknown = [name for name in names if not ImageModel.objects.filter(name=name).exists()]
        if unknown:
            raise forms.ValidationError(f"No image model is named {', '.join(map(repr, unknown))}.")
        return ", ".join(names)


@admin.register(ClientKey)
class ClientKeyAdmin(admin.ModelAdmin):
    form = ClientKeyForm
    list_display = ("name", "masked", "enabled", "limits", "expires_at", "created_at", "last_used_at")
    list_filter = ("enabled",)
    search_fields = ("name", "prefix", "last4")
    actions = ("enable_keys", "disable_keys")

    def get_fieldsets(self, request, obj=None):
        if obj is None:
            return [(None, {"fields": ["name"]})]
        return [
            (None, {"fields": ["name", "enabled", "masked", "created_at", "last_used_at"]}),
            ("Limits (blank: unlimited)", {"fields": list(LIMIT_FIELDS)}),
        ]

    def get_readonly_fields(self, request, obj=None):
        return () if obj is None else ("masked", "created_at", "last_used_at")

    @admin.display(description="key")
    def masked(self, obj):
        return obj.masked

    @admin.display(description="limits")
    def limits(self, obj):
        parts = [
            f"{obj.requests_per_minute}/min" if obj.requests_per_minute is not None else "",
            f"{obj.max_in_flight} in flight" if obj.max_in_flight is not None else "",
            f"{obj.images_per_day} images/day" if obj.images_per_day is not None else "",
            f"models: {obj.allowed_models}" if obj.allowed_models else "",
        ]
        return "; ".join(part for part in parts if part) or "none"

    def save_model(self, request, obj, form, change):
        if change:
            return super().save_model(request, obj, form, change)
        key, raw = ClientKey.generate(obj.name)
        obj.prefix, obj.hashed_key, obj.last4 = key.prefix, key.hashed_key, key.last4
        super().save_model(request, obj, form, change)
        # The raw key exists only in this message: it is hashed in the database.
        self.message_user(
            request,
            format_html("The key for {} is <code>{}</code> — Copy it now: it will not be shown again.", obj.name, raw),
            messages.SUCCESS,
        )

    def _set_enabled(self, request, queryset, enabled: bool) -> None:
        count = queryset.update(enabled=enabled)
        invalidate_client_keys()  # update() sends no post_save signal
        self.message_user(request, f"{'Enabled' if enabled else 'Disabled'} {count} key(s).", messages.SUCCESS)

    @admin.action(description="Enable selected keys")
    def enable_keys(self, request, queryset):
        self._set_enabled(request, queryset, True)

    @admin.action(description="Disable selected keys")
    def disable_keys(self, request, queryset):
        self._set_enabled(request, queryset, False)


class VendorAttemptInline(admin.TabularInline):
    """Each call to a vendor, in order: which key, what came of it, and whether the vendor had it (may bill)."""

    model = VendorAttempt
    fields = ("started_at", "ended_at", "vendor_name", "model", "key_label", "n", "outcome_text", "sent")
    readonly_fields = fields
    extra = 0
    can_delete = False

    def has_add_permission(self, request, obj=None):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    @admin.display(description="outcome")
    def outcome_text(self, obj):
        return obj.outcome or "under way"


@admin.register(Generation)
class GenerationAdmin(ReadOnlyModelAdmin):
    """The ledger: rows are written by the API only, so the admin can look but not touch."""

    inlines = (VendorAttemptInline,)
    list_display = (
        "created_at",
        "model",
        "vendor_name",
        "client_label",
        "key_label",
        "status",
        "error_code",
        "latency_ms",
        "attempt_count",
        "generated_size",
        "thumbnail",
    )
    list_filter = ("status", "endpoint", "model", "vendor_name")
    search_fields = ("user_prompt", "prompt")
    date_hierarchy = "created_at"
    ordering = ("-created_at",)
    fields = (
        "created_at",
        "status",
        "endpoint",
        "model",
        "served_model",
        "vendor",
        "vendor_name",
        "client_key",
        "client_label",
        "end_user",
        "key_label",
        "error_code",
        "error_message",
        "latency_ms",
        "n",
        "requested_size",
        "size",
        "generated_size",
        "notes",
        "user_prompt",
        "prompt",
        "worker",
        "thumbnails",
    )
    readonly_fields = fields

    def get_queryset(self, request):
        return super().get_queryset(request).prefetch_related("images").annotate(attempt_total=Count("attempts"))

    @admin.display(description="attempts", ordering="attempt_total")
    def attempt_count(self, obj):
        return obj.attempt_total

    @staticmethod
    def _images(obj):
        return sorted(obj.images.all(), key=lambda image: image.pk)

    @admin.display(description="image")
    def thumbnail(self, obj):
        images = self._images(obj)
        return thumbnail(images[0]) if images else "—"

    @admin.display(description="images")
    def thumbnails(self, obj):
        images = self._images(obj)
        if not images:
            return "—"
        return format_html_join(
            " ", '<a href="{}">' + THUMBNAIL + "</a>", ((image.path, image.path) for image in images)
        )


@admin.register(OptimizerSettings)
class OptimizerSettingsAdmin(admin.ModelAdmin):
    """One row (pk=1): the list page goes straight to it."""

    fields = ("mode", "vendor", "model", "time_budget", "max_words")

    def has_add_permission(self, request):
        return super().has_add_permission(request) and not OptimizerSettings.objects.exists()

    def has_delete_permission(self, request, obj=None):
        return False

    def changelist_view(self, request, extra_context=None):
        opts = self.model._meta
        row = OptimizerSettings.objects.first()
        if row is None:
            return HttpResponseRedirect(reverse(f"admin:{opts.app_label}_{opts.model_name}_add"))
        return HttpResponseRedirect(reverse(f"admin:{opts.app_label}_{opts.model_name}_change", args=[row.pk]))

    def formfield_for_foreignkey(self, db_field, request, **kwargs):
        if db_field.name == "vendor":
            kwargs["queryset"] = Vendor.objects.filter(kind__in=chat_kinds())
        return super().formfield_for_foreignkey(db_field, request, **kwargs)


@admin.register(EnvImport)
class EnvImportAdmin(ReadOnlyModelAdmin):
    """What import_env last imported. Deleting a row makes the next import treat that vendor as new:
    the environment's values are applied again, and what admin deleted of it is re-created."""

    list_display = ("target", "summary", "imported_at")
    fields = ("target", "summary", "imported_at")
    readonly_fields = fields

    def has_delete_permission(self, request, obj=None):
        return admin.ModelAdmin.has_delete_permission(self, request, obj)  # the read-only base refuses it

    @admin.display(description="imported")
    def summary(self, obj):
        values = obj.values
        if "mode" in values:
            return f"{values['mode']} mode, model {values['model']!r} at vendor {values['vendor']!r}"
        models = ", ".join(values.get("models", {})) or "none"
        return f"kind {values.get('kind')}; models: {models}; {len(values.get('keys', []))} key(s)"
