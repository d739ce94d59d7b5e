"""The fields of a vendor's caps (requests per minute, concurrent calls), which ``vendors.caps`` enforces."""

from __future__ import annotations

from django.core.validators import MinValueValidator
from django.db import models


def _cap(name: str, text: str) -> models.PositiveIntegerField:
    return models.PositiveIntegerField(
        null=True, blank=True, validators=[MinValueValidator(1)], verbose_name=name, help_text=text
    )


def requests_per_minute() -> models.PositiveIntegerField:
    return _cap(
        "requests per minute",
        "At most this many calls to the vendor in any 60 seconds, all keys and workers together. Past it a "
        "request waits in a short queue (VENDOR_QUEUE_WAIT), then gets 503 vendor_busy. Empty: no cap.",
    )


def concurrent_calls() -> models.PositiveIntegerField:
    return _cap(
        "concurrent calls",
        "At most this many calls running at once (a polled job runs until its result is fetched), e.g. 24 for "
        "BFL. Past it a request waits in the same queue. Empty: no cap.",
    )
