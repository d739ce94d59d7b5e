"""Admin for vendors, their image models and their keys.

Vendor keys are write-only: the form takes a new secret and encrypts it; a stored key is only
ever shown as its last four characters.
"""

from __future__ import annotations

from django.contrib import admin, messages
from django.db.models import Count

from vendors.adapters import image_kinds
from vendors.forms import ImageModelInlineFormSet, VendorKeyForm, VendorKeyInlineFormSet
from vendors.models import ImageModel, Vendor, VendorKey
from vendors.services import reset_key

KEY_STATE_FIELDS = ("masked", "status", "failure_count", "last_error", "last_used_at")


class ImageModelInline(admin.TabularInline):
    model = ImageModel
    formset = ImageModelInlineFormSet
    fields = ("name", "upstream_name", "default_size", "enabled")
    extra = 0
    show_change_link = True


class VendorKeyInline(admin.TabularInline):
    model = VendorKey
    form = VendorKeyForm
    formset = VendorKeyInlineFormSet
    fields = ("label", "secret", "enabled", *KEY_STATE_FIELDS)
    readonly_fields = KEY_STATE_FIELDS
    extra = 0
    show_change_link = True

    @admin.display(description="key")
    def masked(self, obj):
        return obj.masked if obj.pk else "—"


@admin.register(Vendor)
class VendorAdmin(admin.ModelAdmin):
    list_display = ("name", "kind", "base_url", "enabled", "model_count", "key_count")
    list_filter = ("kind", "enabled")
    search_fields = ("name",)
    fields = ("name", "kind", "base_url", "enabled", "timeout")
    inlines = (ImageModelInline, VendorKeyInline)

    def get_queryset(self, request):
        return (
            super()
            .get_queryset(request)
            .annotate(model_count=Count("models", distinct=True), key_count=Count("keys", distinct=True))
        )

    @admin.display(description="models", ordering="model_count")
    def model_count(self, obj):
        return obj.model_count

    @admin.display(description="keys", ordering="key_count")
    def key_count(self, obj):
        return obj.key_count


@admin.register(ImageModel)
class ImageModelAdmin(admin.ModelAdmin):
    list_display = ("name", "vendor", "upstream_name", "default_size", "enabled", "created_at")
    list_filter = ("vendor", "enabled")
    list_select_related = ("vendor",)
    search_fields = ("name", "upstream_name")
    fields = ("vendor", "name", "upstream_name", "default_size", "enabled")

    def formfield_for_foreignkey(self, db_field, request, **kwargs):
        if db_field.name == "vendor":
            kwargs["queryset"] = Vendor.objects.filter(kind__in=image_kinds())
        return super().formfield_for_foreignkey(db_field, request, **kwargs)


@admin.register(VendorKey)
class VendorKeyAdmin(admin.ModelAdmin):
    form = VendorKeyForm
    list_display = ("__str__", "vendor", "masked", "enabled", "status", "failure_count", "short_error", "last_used_at")
    list_filter = ("vendor", "status", "enabled")
    list_select_related = ("vendor",)
    search_fields = ("label", "vendor__name", "last4")
    readonly_fields = (*KEY_STATE_FIELDS, "last_failed_at", "created_at")
    actions = ("reset_keys",)

    def get_fields(self, request, obj=None):
        fields = ["vendor", "label", "secret", "enabled"]
        if obj is not None:
            fields += list(self.readonly_fields)
        return fields

    @admin.display(description="key")
    def masked(self, obj):
        return obj.masked

    @admin.display(description="last error")
    def short_error(self, obj):
        return obj.last_error if len(obj.last_error) <= 80 else obj.last_error[:79] + "…"

    @admin.action(description="Reset auto-disabled keys (back into rotation, failure count cleared)")
    def reset_keys(self, request, queryset):
        was_disabled = 0
        for key in queryset:
            was_disabled += key.status == VendorKey.Status.AUTO_DISABLED
            reset_key(key)
        self.message_user(
            request,
            f"Reset {queryset.count()} key(s); {was_disabled} had been auto-disabled and are back in rotation.",
            messages.SUCCESS,
        )
