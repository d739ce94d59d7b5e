"""Alerts in admin: every alert the gateway raised, newest first, and whether the webhook took it.

Rows are the gateway's own record; they are read, filtered and deleted, never written here.
"""

from __future__ import annotations

from django.contrib import admin
from django.utils.html import format_html

from imagegen.models import Alert


@admin.register(Alert)
class AlertAdmin(admin.ModelAdmin):
    list_display = ("created_at", "kind", "subject", "text", "sent")
    list_filter = ("kind", "delivered")
    search_fields = ("subject", "text")
    date_hierarchy = "created_at"
    fields = ("created_at", "kind", "subject", "text", "delivered", "error")
    readonly_fields = fields

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    @admin.display(description="delivered", ordering="delivered")
    def sent(self, obj: Alert) -> str:
        if obj.delivered:
            return format_html('<span style="color:#2e7d32">{}</span>', "✔ delivered")
        return format_html('<span style="color:#b71c1c">{}</span>', obj.error or "not delivered")
