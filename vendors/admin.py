"""Admin for vendors, their image models and their keys.

Vendor keys are write-only: the form takes a new secret and encrypts it; a stored key is only
ever shown as its last four characters.
"""

from __future__ import annotations

from django.conf import settings
from django.contrib import admin, messages
from django.db.models import Count, Prefetch

from vendors import admin_keys
from vendors.adapters import image_kinds
from vendors.admin_catalog import CAPABILITY_FIELDS, CatalogFillMixin, fill_new_inline_models
from vendors.admin_probes import KeyChecksAdmin, test_button
from vendors.forms import (
    ImageModelForm,
    ImageModelInlineForm,
    ImageModelInlineFormSet,
    VendorKeyForm,
    VendorKeyInlineFormSet,
)
from vendors.models import ImageModel, ModelPrice, Vendor, VendorKey
from vendors.services import reset_key

KEY_STATE_FIELDS = ("masked", "state", "failure_count", "last_error", "last_used_at")


class ImageModelInline(admin.TabularInline):
    model = ImageModel
    form = ImageModelInlineForm
    formset = ImageModelInlineFormSet
    fields = ("name", "upstream_name", "default_size", "enabled")
    extra = 0
    show_change_link = True


class VendorKeyInline(admin.TabularInline):
    model = VendorKey
    form = VendorKeyForm
    formset = VendorKeyInlineFormSet
    fields = ("label", "secret", "enabled", *KEY_STATE_FIELDS, "test_key_button")
    readonly_fields = (*KEY_STATE_FIELDS, "test_key_button")
    extra = 0
    show_change_link = True

    @admin.display(description="key")
    def masked(self, obj):
        return obj.masked if obj.pk else "—"

    @admin.display(description="check")
    def test_key_button(self, obj):
        return test_button(obj)

    @admin.display(description="state")
    def state(self, obj):
        return admin_keys.state_badge(obj) if obj.pk else "—"


CAP_FIELDS = ("requests_per_minute", "max_concurrent_calls")
EVIDENCE_FIELDS = ("failures_to_disable", "failure_window")
KEY_HEALTH_FIELDS = ("enabled", "status", "status_reason", "cooling_until", "vendor_id")


@admin.register(Vendor)
class VendorAdmin(admin.ModelAdmin):
    list_display = ("name", "kind", "base_url", "enabled", "model_count", "key_count", "key_health", *CAP_FIELDS)
    list_filter = ("kind", "enabled")
    search_fields = ("name",)
    fieldsets = (
        (None, {"fields": ("name", "kind", "base_url", "enabled", "timeout", *CAP_FIELDS)}),
        ("Key health", {"fields": (EVIDENCE_FIELDS,)}),
    )
    inlines = (ImageModelInline, VendorKeyInline)

    def get_queryset(self, request):
        keys = Prefetch("keys", queryset=VendorKey.objects.only(*KEY_HEALTH_FIELDS), to_attr="key_rows")
        return (
            super()
            .get_queryset(request)
            .annotate(model_count=Count("models", distinct=True), key_count=Count("keys", distinct=True))
            .prefetch_related(keys)
        )

    def save_formset(self, request, form, formset, change):
        if formset.model is ImageModel:
            fill_new_inline_models(request, formset)
        else:
            super().save_formset(request, form, formset, change)

    @admin.display(description="keys usable / total, worst state")
    def key_health(self, obj):
        return admin_keys.key_health(obj.key_rows)

    @admin.display(description="models", ordering="model_count")
    def model_count(self, obj):
        return obj.model_count

    @admin.display(description="keys", ordering="key_count")
    def key_count(self, obj):
        return obj.key_count


class ModelPriceInline(admin.TabularInline):
    """The model's rows of the price table: what one image costs, by size class and quality."""

    model = ModelPrice
    fields = ("max_megapixels", "quality", "price_per_image")
    extra = 0
    verbose_name_plural = "prices per image (in PRICE_CURRENCY; no row that holds for a request: its cost is unknown)"


@admin.register(ImageModel)
class ImageModelAdmin(CatalogFillMixin, admin.ModelAdmin):
    form = ImageModelForm
    inlines = (ModelPriceInline,)
    list_display = (
        "name",
        "vendor",
        "upstream_name",
        "default_size",
        "size_rules",
        "fallback",
        "retention",
        "image_cache",
        "enabled",
        "created_at",
    )
    list_filter = ("vendor", "enabled")
    list_select_related = ("vendor", "fallback")
    search_fields = ("name", "upstream_name")
    readonly_fields = ("fallback_chain", "catalog_provenance")
    fieldsets = (
        (None, {"fields": ("vendor", "name", "upstream_name", "enabled")}),
        (
            "Sizes",
            {
                "description": "A request's size comes from its size field, else a WxH or ratio in the prompt, else "
                "the default size below; it is then mapped to the closest size these rules allow. Leave the rules "
                "empty for a model that takes any size.",
                "fields": (
                    "default_size",
                    "size_format",
                    "allowed_sizes",
                    "allowed_ratios",
                    ("size_multiple", "min_side", "max_side"),
                    "max_megapixels",
                ),
            },
        ),
        ("Capabilities", {"fields": CAPABILITY_FIELDS}),
        (
            "Catalog",
            {
                "description": "A model is filled from the catalog when it is made; your own values always win. "
                "manage.py catalog --diff compares it with a newer catalog.",
                "fields": ("catalog_provenance",),
            },
        ),
        ("Fallback", {"fields": ("fallback", "fallback_on_content_policy", "fallback_chain")}),
        ("Retention", {"fields": ("retention_days",)}),
        ("Image cache", {"fields": ("image_cache_seconds",)}),
    )

    def formfield_for_foreignkey(self, db_field, request, **kwargs):
        if db_field.name == "vendor":
            kwargs["queryset"] = Vendor.objects.filter(kind__in=image_kinds())
        return super().formfield_for_foreignkey(db_field, request, **kwargs)

    @admin.display(description="size rules")
    def size_rules(self, obj):
        if obj.allowed_sizes:
            return obj.allowed_sizes
        rules = [obj.allowed_ratios] if obj.allowed_ratios else []
        if obj.size_multiple:
            rules.append(f"×{obj.size_multiple}")
        if obj.min_side or obj.max_side:
            rules.append(f"{obj.min_side or '…'}–{obj.max_side or '…'} px")
        if obj.max_megapixels:
            rules.append(f"≤ {obj.max_megapixels:g} MP")
        return "; ".join(rules) or "any"

    @admin.display(description="keep images", ordering="retention_days")
    def retention(self, obj):
        days = obj.retention_days
        default = days is None
        if default:
            days = settings.IMAGE_RETENTION_DAYS
        text = f"{days} d" if days else "forever"
        return f"default ({text})" if default else text

    @admin.display(description="image cache", ordering="image_cache_seconds")
    def image_cache(self, obj):
        return f"{obj.image_cache_seconds} s" if obj.image_cache_seconds else "off"

    @admin.display(description="fallback chain")
    def fallback_chain(self, obj):
        """The models a request tries after this one, as saved (disabled ones are passed over)."""
        if obj is None or obj.pk is None or obj.fallback_id is None:
            return "—"
        rows = {row.pk: row for row in ImageModel.objects.select_related("vendor")}
        names, seen, following = [obj.name], {obj.pk}, obj.fallback_id
        while following in rows and following not in seen:
            seen.add(following)
            row = rows[following]
            usable = row.enabled and row.vendor.enabled
            names.append(row.name if usable else f"{row.name} (skipped: disabled)")
            following = row.fallback_id
        return " → ".join(names)


@admin.register(VendorKey)
class VendorKeyAdmin(KeyChecksAdmin, admin.ModelAdmin):
    form = VendorKeyForm
    list_display = (
        "__str__",
        "vendor",
        "masked",
        "state",
        "switch",
        "verdict",
        "failure_count",
        "short_error",
        "last_used_at",
    )
    list_filter = ("vendor", "status", "enabled")
    list_select_related = ("vendor",)
    search_fields = ("label", "vendor__name", "last4")
    readonly_fields = (
        "masked",
        "state",
        "verdict",
        "status_reason",
        "status_changed_at",
        "failure_count",
        "last_error",
        "last_used_at",
        "last_failed_at",
        "created_at",
        "history",
        "test_key_button",
    )
    actions = ("reset_keys", "test_keys", "paid_test_generation")

    def get_fields(self, request, obj=None):
        fields = ["vendor", "label", "secret", "enabled"]
        if obj is not None:
            fields += list(self.readonly_fields)
        return fields

    @admin.display(description="key")
    def masked(self, obj):
        return obj.masked

    @admin.display(description="state", ordering="status")
    def state(self, obj):
        return admin_keys.state_badge(obj)

    @admin.display(description="operator's switch", boolean=True, ordering="enabled")
    def switch(self, obj):
        return obj.enabled

    @admin.display(description="gateway's verdict", ordering="status")
    def verdict(self, obj):
        return admin_keys.verdict_words(obj)

    @admin.display(description="changes of state (newest first)")
    def history(self, obj):
        return admin_keys.history_table(obj)

    @admin.display(description="last error")
    def short_error(self, obj):
        return obj.last_error if len(obj.last_error) <= 80 else obj.last_error[:79] + "…"

    @admin.action(description="Reset keys (back into rotation as active, failure count and evidence cleared)")
    def reset_keys(self, request, queryset):
        was_disabled = 0
        for key in queryset:
            was_disabled += key.status == VendorKey.Status.AUTO_DISABLED
            reset_key(key, reason=f"reset by the operator ({request.user.get_username()})")
        self.message_user(
            request,
            f"Reset {queryset.count()} key(s); {was_disabled} had been auto-disabled and are back in rotation.",
            messages.SUCCESS,
        )
