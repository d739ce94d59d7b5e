"""The usage page in admin: images and cost per client key and per model, today, this month and per day.

``Usage`` is a proxy of the ledger with no table of its own, so the page has its place in the admin's
index (Gateway > Usage); its "list" is the report of ``imagegen.usage``, filtered by key and model.
"""

from __future__ import annotations

from django.contrib import admin
from django.template.response import TemplateResponse

from imagegen.models import Usage
from imagegen.usage import Filters, usage_report


@admin.register(Usage)
class UsageAdmin(admin.ModelAdmin):
    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False

    def changelist_view(self, request, extra_context=None):
        filters = Filters(client=request.GET.get("client", ""), model=request.GET.get("model", ""))
        context = {
            **self.admin_site.each_context(request),
            "opts": self.model._meta,
            "title": "Usage",
            "filters": filters,
            **usage_report(filters),
        }
        return TemplateResponse(request, "admin/imagegen/usage.html", context)
