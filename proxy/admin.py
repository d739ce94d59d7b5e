"""Admin for stored images: a read-only list, since rows and files are written by the gateway only."""

from __future__ import annotations

from django.contrib import admin
from django.template.defaultfilters import filesizeformat
from django.utils.html import format_html

from proxy.models import StoredImage

THUMBNAIL = '<img src="{}" alt="" style="height:48px;width:auto" height="48" loading="lazy">'


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
    list_display = ("thumbnail", "vendor", "size", "dimensions", "content_type", "created_at")
    list_filter = ("vendor", "content_type")
    search_fields = ("token", "sha256")
    date_hierarchy = "created_at"
    fields = (
        "preview",
        "url_path",
        "vendor",
        "dimensions",
        "size",
        "content_type",
        "extension",
        "sha256",
        "file",
        "created_at",
    )
    readonly_fields = fields

    @admin.display(description="image")
    def thumbnail(self, obj):
        return format_html(THUMBNAIL, obj.path)

    @admin.display(description="image")
    def preview(self, obj):
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
