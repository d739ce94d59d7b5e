"""Idempotency keys in admin: which client sent which key, whether its request is in flight or answered, and with
what. Rows are the gateway's; deleting one frees the key at once (the next request with it generates again)."""

from __future__ import annotations

from django.contrib import admin
from django.urls import reverse
from django.utils.html import format_html

from imagegen.models import IdempotencyRecord


@admin.register(IdempotencyRecord)
class IdempotencyRecordAdmin(admin.ModelAdmin):
    list_display = ("key", "client_label", "endpoint", "state", "outcome", "created_at", "expires_at")
    list_filter = ("state", "endpoint", "client_label")
    search_fields = ("key",)
    date_hierarchy = "created_at"
    fields = ("key", "client_label", "endpoint", "state", "outcome", "ledger_row", "created_at", "expires_at")
    readonly_fields = fields

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    @admin.display(description="answer")
    def outcome(self, obj: IdempotencyRecord) -> str:
        """What a replay answers: the images, or the error stored because a vendor may have billed."""
        answer = obj.answer or {}
        if answer.get("kind") == "error":
            error = answer["body"]["error"]
            return f"{answer['status']} {error.get('code') or ''}: {error.get('message', '')}"
        if answer.get("kind") == "images":
            return f"{len(answer.get('images', []))} image(s)"
        if answer.get("kind") == "chat":
            return "chat completion"
        return "-"

    @admin.display(description="ledger")
    def ledger_row(self, obj: IdempotencyRecord) -> str:
        if obj.generation_id is None:
            return "-"
        url = reverse("admin:imagegen_generation_change", args=[obj.generation_id])
        return format_html('<a href="{}">generation {}</a>', url, obj.generation_id)
