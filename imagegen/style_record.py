"""A style preset: what a client picks with ``style`` (or ``--style NAME`` in chat text).

Imported by ``imagegen.models`` so Django registers it; choosing and applying one is ``imagegen.styles``.
"""

from __future__ import annotations

import re

from django.core.exceptions import ValidationError
from django.db import models

# OpenAI Images' own styles: passed to vendors that have them, never a preset's name.
OPENAI_STYLES = ("vivid", "natural")
RATIO = re.compile(r"(\d{1,2})\s*:\s*(\d{1,2})")


class StylePreset(models.Model):
    name = models.SlugField(
        max_length=50,
        unique=True,
        help_text="What clients send as style (or --style NAME in chat text): lower-case letters, digits, - and _.",
    )
    description = models.CharField(max_length=200, blank=True, help_text="Shown to clients by GET /v1/styles.")
    guidance = models.TextField(
        blank=True,
        help_text="Added to the prompt optimizer's instructions when it rewrites the idea. "
        "Empty: the optimizer is asked to apply the suffix.",
    )
    suffix = models.CharField(
        max_length=500,
        blank=True,
        help_text="Appended to the prompt when the optimizer is off (or falls back to the user's words), "
        "e.g. “watercolor painting, soft edges, paper texture”.",
    )
    negative_prompt = models.TextField(
        blank=True,
        help_text="What to keep out, sent to the kinds that take a negative prompt (the others drop it).",
    )
    default_ratio = models.CharField(
        max_length=5, blank=True, help_text="W:H, e.g. 3:2; used when the request names no size or ratio."
    )
    enabled = models.BooleanField(default=True, help_text="Disabled presets are not listed and are refused (400).")
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name

    def clean(self):
        self.name = (self.name or "").strip().lower()
        if self.name in OPENAI_STYLES:
            raise ValidationError({"name": "vivid and natural are OpenAI's styles, passed on to vendors as they are."})
        ratio = RATIO.fullmatch(self.default_ratio.strip())
        if self.default_ratio.strip() and (ratio is None or not all(int(term) for term in ratio.groups())):
            raise ValidationError({"default_ratio": "A ratio is W:H with whole numbers from 1 to 99, e.g. 16:9."})
        if ratio is not None:
            self.default_ratio = f"{int(ratio[1])}:{int(ratio[2])}"
