"""Admin for client keys: the key shown once, its limits (``imagegen.client_limits`` enforces them)."""

from __future__ import annotations

from django import forms
from django.contrib import admin, messages
from django.utils.html import format_html

from imagegen.client_keys import invalidate_client_keys
from imagegen.models import ClientKey, model_names
from vendors.models import ImageModel

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
