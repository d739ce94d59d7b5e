"""What text the gateway takes: characters every vendor and every store can carry, and prompts of bounded length.

Checked at the edge, before a vendor is paid: a lone surrogate ("\\ud800" is valid JSON, but no
UTF-8 encoder takes it) failed when the ledger row was written, and PostgreSQL cannot store NUL.
"""

from __future__ import annotations

import re

from django.conf import settings
from rest_framework import serializers

# NUL and the other C0 controls except tab, line feed and carriage return, DEL, and lone surrogates.
UNSAFE_CHARACTER = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\x7f\ud800-\udfff]")
# The same rule as the published contract's patterns (OpenAPI regexes, which cannot name lone surrogates).
SAFE = "\\x00-\\x08\\x0b\\x0c\\x0e-\\x1f\\x7f"
SAFE_TEXT = f"^[^{SAFE}]*$"


def unsafe_text(value: str) -> str | None:
    """Why the text cannot be sent or stored, or None when it can."""
    found = UNSAFE_CHARACTER.search(value)
    if found is None:
        return None
    code = ord(found.group())
    what = "a lone surrogate" if 0xD800 <= code <= 0xDFFF else "a control character"
    return (
        f"The text contains {what} (U+{code:04X}) at position {found.start()}; "
        "text may hold no control characters other than tab and line breaks."
    )


def reject_unsafe_text(value: str) -> None:
    if (problem := unsafe_text(value)) is not None:
        raise serializers.ValidationError(problem)


def long_prompt(value: str) -> str | None:
    """Why the prompt is too long (over MAX_PROMPT_CHARS), or None."""
    limit = settings.MAX_PROMPT_CHARS
    return f"The prompt is {len(value)} characters long; the limit is {limit}." if len(value) > limit else None


def reject_long_prompt(value: str) -> None:
    if (problem := long_prompt(value)) is not None:
        raise serializers.ValidationError(problem)


class SafeText(serializers.CharField):
    """A CharField whose text any vendor and any store can take (DRF already refuses NUL and lone
    surrogates; this refuses the other control characters too), given as a JSON string."""

    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        self.validators.append(reject_unsafe_text)

    def to_internal_value(self, data):
        # DRF's CharField turns numbers into text; the API takes strings only, as its document says.
        if not isinstance(data, str):
            self.fail("invalid")
        return super().to_internal_value(data)


def error_at(param: str, message: str) -> serializers.ValidationError:
    """A validation error for a dotted path such as ``messages.3.content.0.text``."""
    detail: object = message
    for name in reversed(param.split(".")):
        detail = {name: detail}
    return serializers.ValidationError(detail)
