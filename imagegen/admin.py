"""Admin for the generation ledger (with its CSV export), the prompt optimizer's settings and import_env's
records. Client keys are in ``imagegen.admin_client_keys``, the usage page in ``imagegen.admin_usage``."""

from __future__ import annotations

from django.contrib import admin
from django.contrib.admin.options import IncorrectLookupParameters
from django.core.exceptions import PermissionDenied
from django.db.models import Count, Q
from django.http import HttpResponseRedirect
from django.urls import path, reverse
from django.utils import timezone
from django.utils.html import format_html, format_html_join

from imagegen import (  # noqa: F401  (register their pages)
    admin_alerts,
    admin_client_keys,
    admin_dashboard,
    admin_idempotency,
    admin_styles,
    admin_usage,
)
from imagegen.costs import shown
from imagegen.ledger_export import csv_response
from imagegen.models import EnvImport, Generation, OptimizerSettings, VendorAttempt
from proxy.admin import TAKE_DOWN_PERMISSION, ReadOnlyModelAdmin, TakedownForm, removal_text, take_down_images
from proxy.models import StoredImage
from vendors.adapters import chat_kinds
from vendors.models import Vendor

admin.site.site_header = "imagegen"
admin.site.site_title = "imagegen admin"
admin.site.index_title = "Gateway administration"

THUMBNAIL = '<img src="{}" alt="" style="height:48px;width:auto" height="48" loading="lazy">'


def thumbnail(image) -> str:
    return removal_text(image) if image.removed else format_html(THUMBNAIL, image.path)


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
        "image_count",
        "cost",
        "thumbnail",
    )
    list_filter = ("status", "endpoint", "model", "vendor_name", "client_label")
    change_list_template = "admin/imagegen/generation/change_list.html"
    search_fields = ("user_prompt", "prompt", "=request_id")
    date_hierarchy = "created_at"
    ordering = ("-created_at",)
    fields = (
        "created_at",
        "request_id",
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
        "image_count",
        "requested_size",
        "size",
        "generated_size",
        "optimizer_prompt_tokens",
        "optimizer_completion_tokens",
        "vendor_cost",
        "optimizer_cost",
        "cost_currency",
        "notes",
        "user_prompt",
        "prompt",
        "worker",
        "thumbnails",
        "input_thumbnails",
    )
    readonly_fields = fields
    actions = ("take_down_images",)
    action_form = TakedownForm

    def get_queryset(self, request):
        rows = super().get_queryset(request)
        if getattr(request, "ledger_export", False):
            return rows  # plain rows: the export reads columns, not images or attempts
        return rows.prefetch_related("images").annotate(attempt_total=Count("attempts"))

    def get_urls(self):
        export = path("export.csv", self.admin_site.admin_view(self.export_csv), name="imagegen_generation_export")
        return [export, *super().get_urls()]

    def export_csv(self, request):
        """The rows the changelist shows with the same filters, search and date, as streamed CSV."""
        if not self.has_view_permission(request):
            raise PermissionDenied
        request.ledger_export = True
        try:
            rows = self.get_changelist_instance(request).get_queryset(request)
        except IncorrectLookupParameters:
            return HttpResponseRedirect(reverse("admin:imagegen_generation_changelist") + "?e=1")
        return csv_response(rows, f"ledger-{timezone.now():%Y%m%d-%H%M%S}.csv")

    @admin.display(description="cost")
    def cost(self, obj):
        if obj.status == Generation.Status.PENDING:
            return "—"
        if obj.vendor_cost is None or obj.optimizer_cost is None:
            return "unknown"
        return f"{shown(obj.vendor_cost + obj.optimizer_cost)} {obj.cost_currency}"

    def has_take_down_permission(self, request):
        return request.user.has_perm(TAKE_DOWN_PERMISSION)

    @admin.action(
        description="Take down the images of selected generations (files deleted, URLs answer 410)",
        permissions=("take_down",),
    )
    def take_down_images(self, request, queryset):
        made_or_sent = Q(generations__in=queryset) | Q(input_to__in=queryset)  # the results and the client's inputs
        images = StoredImage.objects.filter(made_or_sent).values_list("pk", flat=True).distinct()
        take_down_images(self, request, list(images))

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
        removed = [removal_text(image) for image in images if image.removed]
        links = ((image.path, image.path) for image in images if not image.removed)
        served = format_html_join(" ", '<a href="{}">' + THUMBNAIL + "</a>", links)
        return format_html("{} {}", served, "; ".join(removed)) if removed else served

    @admin.display(description="input images")
    def input_thumbnails(self, obj):
        """What the client sent in (chat image parts, an edit's images and mask), in order, each linked."""
        inputs = obj.inputs.select_related("image")
        if not inputs:
            return "—"
        labelled = (
            format_html('<a href="{}" title="{}">{}</a>', link.image.path, str(link), thumbnail(link.image))
            if not link.image.removed
            else format_html("{}: {}", str(link), removal_text(link.image))
            for link in inputs
        )
        return format_html_join(" ", "{}", ((item,) for item in labelled))


@admin.register(OptimizerSettings)
class OptimizerSettingsAdmin(admin.ModelAdmin):
    """One row (pk=1): the list page goes straight to it."""

    fields = (
        "mode",
        "client_modes",
        "vendor",
        "model",
        "time_budget",
        "max_words",
        "input_price_per_million",
        "output_price_per_million",
    )

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
