"""Style presets chosen by a request: the ``style`` field, or ``--style NAME`` in chat text.

OpenAI's ``vivid`` and ``natural`` keep their meaning (passed on as OpenAI Images' ``style``); any other
value names an enabled preset, else the request is refused (400, naming the presets) before anything is
spent. A preset shapes the prompt (guidance for the optimizer, or a suffix when the optimizer is off or
falls back to the user's words), sends a negative prompt to the kinds that take one, and gives a ratio
when the request names none. Its ``version`` hashes that content, so an edit never serves a cached prompt.
"""

from __future__ import annotations

import hashlib
import json
import re
from dataclasses import dataclass

from core.db import Snapshot
from core.errors import GatewayError
from imagegen.style_record import OPENAI_STYLES, StylePreset

# The text form: "--style watercolor" (like "--ar 16:9"), never a word of prose ("in the style of",
# "style: minimal" or "#watercolor" pick nothing). Not glued to a word before it.
TEXT_FORM = re.compile(r"(?<![\w-])--style(?:\s+|\s*=\s*)([A-Za-z0-9_-]{1,50})(?![\w-])", re.IGNORECASE)


@dataclass(frozen=True)
class Style:
    """An enabled preset as the request path uses it."""

    name: str
    description: str = ""
    guidance: str = ""
    suffix: str = ""
    negative_prompt: str = ""
    default_ratio: str = ""

    @property
    def version(self) -> str:
        content = [self.guidance, self.suffix, self.negative_prompt, self.default_ratio]
        return hashlib.sha256(json.dumps(content, ensure_ascii=False).encode()).hexdigest()[:16]

    @property
    def cache_slot(self) -> str:
        """The preset in a cache key: its name and the version of its content."""
        return f"{self.name}:{self.version}"

    @property
    def optimizer_guidance(self) -> str:
        """What the optimizer's instructions gain: the guidance, else the suffix as the style to apply."""
        if self.guidance.strip():
            return self.guidance.strip()
        return f"Render it in this style: {self.suffix.strip()}" if self.suffix.strip() else ""


@dataclass(frozen=True)
class StyleChoice:
    openai_style: str | None = None  # vivid / natural, passed on as OpenAI Images' style
    preset: Style | None = None


class StyleNotFound(GatewayError):
    status, code = 400, "style_not_found"

    def __init__(self, name: str, presets: list[str], param: str):
        names = ", ".join(presets) or "none are configured"
        super().__init__(
            f"The style '{name}' is not a style preset. Presets: {names}; or OpenAI's {' and '.join(OPENAI_STYLES)}.",
            param=param,
        )


def _load_presets() -> dict[str, Style]:
    rows = StylePreset.objects.filter(enabled=True).order_by("name")
    return {
        row.name: Style(
            name=row.name,
            description=row.description,
            guidance=row.guidance,
            suffix=row.suffix,
            negative_prompt=row.negative_prompt,
            default_ratio=row.default_ratio,
        )
        for row in rows
    }


_presets = Snapshot(_load_presets)
enabled_presets = _presets.get
invalidate_presets = _presets.invalidate


def style_in_text(text: str) -> tuple[str | None, str]:
    """The name given by ``--style NAME`` in the text (the first one), and the text without it."""
    match = TEXT_FORM.search(text)
    if match is None:
        return None, text
    rest = text[: match.start()] + " " + text[match.end() :]
    return match[1], re.sub(r"[ \t]+", " ", rest).strip()


async def choose(value: str | None, idea: str, *, from_text: bool) -> tuple[StyleChoice, str]:
    """The style a request asks for (the field wins over the text form) and the idea without the text form."""
    named, param = (value or "").strip(), "style"
    if from_text:
        in_text, idea = style_in_text(idea)
        if not named and in_text:
            named, param = in_text, "messages"
    if not named:
        return StyleChoice(), idea
    name = named.lower()
    if name in OPENAI_STYLES:
        return StyleChoice(openai_style=name), idea
    presets = await enabled_presets()
    if name not in presets:
        raise StyleNotFound(named, list(presets), param)
    return StyleChoice(preset=presets[name]), idea


def styled(prompt: str, style: Style | None) -> str:
    """The prompt with the preset's suffix, as sent when the optimizer does not rewrite it."""
    suffix = style.suffix.strip() if style is not None else ""
    return f"{prompt.rstrip(' ,')}, {suffix}" if suffix else prompt
