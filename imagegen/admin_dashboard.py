"""The dashboard in admin (Gateway > Dashboard): charts drawn in the browser by the Chart.js file served
from the gateway's own static files, so the page works with no internet access."""

from __future__ import annotations

from django.contrib import admin
from django.template.response import TemplateResponse

from imagegen.dashboard import dashboard
from imagegen.models import Dashboard


@admin.register(Dashboard)
class DashboardAdmin(admin.ModelAdmin):
    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False

    def changelist_view(self, request, extra_context=None):
        context = {
            **self.admin_site.each_context(request),
            "opts": self.model._meta,
            "title": "Dashboard",
            "data": dashboard(),
        }
        return TemplateResponse(request, "admin/imagegen/dashboard.html", context)
