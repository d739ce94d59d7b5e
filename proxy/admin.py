"""Admin for stored images: read-only rows written by the gateway, and the takedown action."""

from __future__ import annotations

from django import forms
from django.contrib import admin, messages
from django.contrib.admin.helpers import ActionForm
from django.template.defaultfilters import filesizeformat
from django.utils.html import format_html

from proxy.models import StoredImage
from proxy.removal import take_down

THUMBNAIL = '<img src="{}" alt="" style="height:48px;width:auto" height="48" loading="lazy">'
TAKE_DOWN_PERMISSION = "proxy.change_storedimage"


class TakedownForm(ActionForm):
    """The action bar, with the reason a takedown is recorded with."""

    reason = forms.CharField(
        required=False, label="Reason (for takedowns):", widget=forms.TextInput(attrs={"size": 40})
    )


def take_down_images(model_admin: admin.ModelAdmin, request, image_ids) -> None:
    """The takedown, as both admin actions run it: recorded with the user and the reason asked for."""
    reason = request.POST.get("reason", "").strip()
    if not reason:
        model_admin.message_user(request, "Nothing was taken down: give a reason for the takedown.", messages.ERROR)
        return
    done = take_down(image_ids, by=request.user.get_username(), reason=reason)
    kept = f"; {done.files_kept} file(s) kept because other live images have the same bytes" if done.files_kept else ""
    model_admin.message_user(
        request,
        f"Took down {done.rows} image(s): their URLs answer 410 Gone. Deleted {done.files_deleted} file(s){kept}.",
        messages.SUCCESS,
    )


def removal_text(image: StoredImage) -> str:
    return f"{image.get_removal_display().lower()} {image.removed_at:%Y-%m-%d %H:%M}"


class ReadOnlyModelAdmin(admin.ModelAdmin):
    """Rows the gateway writes as records: viewable, never added, edited or deleted by hand."""

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False


@admin.register(StoredImage)
class StoredImageAdmin(ReadOnlyModelAdmin):
    list_display = ("thumbnail", "model", "vendor", "size", "dimensions", "created_at", "expires_at", "state")
    list_filter = ("removal", "model", "vendor", "content_type")
    search_fields = ("token", "sha256")
    date_hierarchy = "created_at"
    fields = (
        "preview",
        "url_path",
        "model",
        "vendor",
        "dimensions",
        "size",
        "content_type",
        "extension",
        "sha256",
        "file",
        "created_at",
        "expires_at",
        "removed_at",
        "removal",
        "removed_by",
        "removal_reason",
        "file_released",
    )
    readonly_fields = fields
    actions = ("take_down_selected",)
    action_form = TakedownForm

    def has_take_down_permission(self, request):
        return request.user.has_perm(TAKE_DOWN_PERMISSION)

    @admin.action(
        description="Take down selected images (file deleted, URL answers 410; the row stays)",
        permissions=("take_down",),
    )
    def take_down_selected(self, request, queryset):
        take_down_images(self, request, queryset.values_list("pk", flat=True))

    @admin.display(description="state", ordering="removed_at")
    def state(self, obj):
        return removal_text(obj) if obj.removed else "served"

    @admin.display(description="image")
    def thumbnail(self, obj):
        return removal_text(obj) if obj.removed else format_html(THUMBNAIL, obj.path)

    @admin.display(description="image")
    def preview(self, obj):
        if obj.removed:
            return f"{removal_text(obj)}: {obj.path} answers 410 Gone"
        return format_html(
            '<a href="{}"><img src="{}" alt="" style="max-height:320px;max-width:100%"></a>', obj.path, obj.path
        )

    @admin.display(description="URL path")
    def url_path(self, obj):
        return obj.path

    @admin.display(description="size", ordering="byte_size")
    def size(self, obj):
        return filesizeformat(obj.byte_size)

    @admin.display(description="dimensions")
    def dimensions(self, obj):
        return f"{obj.width}×{obj.height}"
