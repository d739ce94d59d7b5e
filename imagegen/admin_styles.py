"""Style presets in admin: a list of every preset and a form to write one.

A saved edit reaches this worker at once and the others within ROUTING_CACHE_SECONDS; cached prompts and
images made with the old content are not served again (the preset's content version is in their keys).
"""

from __future__ import annotations

from django import forms
from django.contrib import admin

from imagegen.models import StylePreset


@admin.register(StylePreset)
class StylePresetAdmin(admin.ModelAdmin):
    list_display = (
        "name",
        "description",
        "enabled",
        "default_ratio",
        "has_suffix",
        "has_negative_prompt",
    )
    list_display_links = ("name",)
    list_editable = ("enabled",)
    list_filter = ("enabled",)
    search_fields = ("name", "description")
    fieldsets = (
        (None, {"fields": ("name", "description", "enabled")}),
        ("The prompt", {"fields": ("guidance", "suffix")}),
        ("The request", {"fields": ("negative_prompt", "default_ratio")}),
    )

    def formfield_for_dbfield(self, db_field, request, **kwargs):
        # Prompt text reads better wide and short than in Django's default boxes.
        rows = {"guidance": 4, "suffix": 2, "negative_prompt": 2}.get(db_field.name)
        if rows:
            kwargs["widget"] = forms.Textarea(attrs={"rows": rows, "cols": 90})
        return super().formfield_for_dbfield(db_field, request, **kwargs)

    @admin.display(boolean=True, description="suffix")
    def has_suffix(self, obj: StylePreset) -> bool:
        return bool(obj.suffix.strip())

    @admin.display(boolean=True, description="negative prompt")
    def has_negative_prompt(self, obj: StylePreset) -> bool:
        return bool(obj.negative_prompt.strip())
