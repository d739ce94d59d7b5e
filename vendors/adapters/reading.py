"""Reading vendor answers: the body as JSON, the vendor's words about a failure, the machine codes in it,
the wait it asks for, and typed access to JSON values (``as_dict``, ``as_list``, ``as_str``, ``as_int``).

Shared by every adapter's ``error_facts`` (``vendors.adapters.base``). Messages are read as the operator's
text (``core.redaction.admin_text``: an HTML page becomes its headline, URLs, anything shaped like a key and
the exact key the request sent are masked); the errors made from them give clients a cleaned, shorter text
(``vendors.errors.UpstreamError.from_vendor``).
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Mapping
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from typing import TypeAlias

import httpx

from core.redaction import admin_text, scrub

Json: TypeAlias = "dict[str, Json] | list[Json] | str | int | float | bool | None"

RESET = re.compile(r"(?:\d+(?:\.\d+)?(?:ms|h|m|s))+")  # OpenAI's x-ratelimit-reset-*: "1s", "6m0s", "20ms"
RESET_PART = re.compile(r"(\d+(?:\.\d+)?)(ms|h|m|s)")
RESET_UNITS = {"ms": 0.001, "s": 1.0, "m": 60.0, "h": 3600.0}

# Where error bodies keep lists of coded items: Gemini's details[].reason, FastAPI's detail[].type (fal),
# Cloudflare's errors[].code.
CODED_LISTS = (("details", "reason"), ("detail", "type"), ("errors", "code"))


def json_body(response: httpx.Response) -> Json:
    """The body as JSON (object, array or bare string), or None when it is not JSON."""
    try:
        parsed: Json = json.loads(response.content)
    except (ValueError, UnicodeDecodeError):
        return None
    return parsed


def is_html_page(response: httpx.Response, body: Json) -> bool:
    """Whether a failed answer is an HTML page (a proxy's, a CDN's or a firewall's) rather than the API's own."""
    if body is not None:
        return False
    media_type = response.headers.get("content-type", "").split(";")[0].strip().lower()
    start = response.content[:64].lstrip().lower()
    return media_type in ("text/html", "application/xhtml+xml") or start.startswith((b"<!doctype html", b"<html"))


def vendor_message(response: httpx.Response, body: Json = None) -> str:
    """The vendor's own words about a failure as the operator reads them (``core.redaction.admin_text``):
    an error page's headline rather than its HTML, URLs and keys masked; ``HTTP <status>`` when it said
    nothing."""
    if body is None:
        body = json_body(response)
    text = _message_from(body)
    if text is None:
        # Only the start of a body is read: an error page can be megabytes of HTML.
        text = response.content[: 64 * 1024].decode(response.encoding or "utf-8", "replace") if response.content else ""
    return admin_text(text) or f"HTTP {response.status_code}"


def sent_key(response: httpx.Response) -> str:
    """The key the request of ``response`` carried (Bearer, ``Key`` or ``x-key``), to scrub from messages."""
    try:
        headers = response.request.headers
    except RuntimeError:  # a response built without its request
        return ""
    key: str = headers.get("x-key") or headers.get("authorization", "").split(" ", 1)[-1].strip()
    return key


def clean_message(response: httpx.Response, body: Json = None) -> str:
    """``vendor_message``, also scrubbed of the exact key this request sent (vendors echo it back)."""
    message = vendor_message(response, body)
    key = sent_key(response)
    return scrub(message, key) if key else message


def as_dict(value: Json) -> dict[str, Json]:
    """``value`` when it is a JSON object, else an empty one."""
    return value if isinstance(value, dict) else {}


def as_list(value: Json) -> list[Json]:
    """``value`` when it is a JSON array, else an empty one."""
    return value if isinstance(value, list) else []


def as_str(value: Json) -> str | None:
    """``value`` when it is a non-empty string, else None."""
    return value if isinstance(value, str) and value else None


def as_int(value: Json) -> int | None:
    """``value`` when it is an integer (not a boolean), else None."""
    return value if isinstance(value, int) and not isinstance(value, bool) else None


def error_codes(body: Json) -> frozenset[str]:
    """The machine codes of an error body, lower-cased: ``code``, ``type``, ``error_type`` and a string
    ``status`` of the error object (OpenAI and relays, xAI, Gemini, SiliconFlow's numeric code, fal), the
    coded lists of ``CODED_LISTS``, and ``moderation`` for OpenRouter's moderation ``metadata.reasons``."""
    if isinstance(body, list) and body:
        body = body[0]  # Gemini's compat endpoint wraps the error in an array
    if not isinstance(body, dict):
        return frozenset()
    inner = body.get("error")
    error = inner if isinstance(inner, dict) else body
    found = {_code(error.get(field)) for field in ("code", "type", "error_type")}
    if isinstance(error.get("status"), str):  # Gemini's INVALID_ARGUMENT; a number there is the HTTP status
        found.add(_code(error.get("status")))
    for field, code_field in CODED_LISTS:
        items = error.get(field)
        for item in items if isinstance(items, list) else []:
            found.add(_code(item.get(code_field)) if isinstance(item, dict) else "")
    metadata = error.get("metadata")
    if isinstance(metadata, dict) and metadata.get("reasons"):
        found.add("moderation")
    return frozenset(found - {""})


def _code(value: Json) -> str:
    if isinstance(value, bool):
        return ""
    if isinstance(value, int):
        return str(value)
    return value.strip().lower() if isinstance(value, str) else ""


def validation_text(detail: list[Json]) -> str:
    """A FastAPI validation list (``[{"loc": [...], "msg": ...}]``) as ``field: msg; ...`` (the first three)."""
    parts = []
    for item in detail[:3]:
        if not isinstance(item, dict) or not isinstance(item.get("msg"), str):
            continue
        loc = item.get("loc")
        names = [str(part) for part in loc if part not in ("body", "query")] if isinstance(loc, list) else []
        parts.append(f"{'.'.join(names)}: {item['msg']}" if names else str(item["msg"]))
    return "; ".join(parts)


def _message_from(body: Json) -> str | None:
    if isinstance(body, str):
        return body
    if isinstance(body, list):
        return _message_from(body[0]) if body else None
    if not isinstance(body, dict):
        return None
    error = body.get("error")
    if isinstance(error, dict):
        return _message_from(error)
    if isinstance(error, str):
        return error
    detail = body.get("detail")
    if isinstance(detail, list) and validation_text(detail):
        return validation_text(detail)
    for field in ("message", "detail", "title", "errors", "msg"):
        value = body.get(field)
        if isinstance(value, str) and value:
            return value
        if isinstance(value, list) and value:
            first = value[0]
            return first if isinstance(first, str) else _message_from(first)
    return None


def parse_retry_after(value: str | None, *, dates: bool = True) -> float | None:
    """Seconds from a ``Retry-After`` value: delta-seconds, or (with ``dates``) an HTTP date, counted from now
    (a date already past is 0). None for anything else: empty, negative, not a number (NaN included). A huge
    or infinite value is returned as it is; the key loop bounds every rest."""
    value = (value or "").strip()
    if not value:
        return None
    try:
        seconds = float(value)
    except ValueError:
        return _seconds_until(value) if dates else None
    return seconds if seconds >= 0 else None  # NaN compares False: unknown


def _seconds_until(http_date: str) -> float | None:
    try:
        when = parsedate_to_datetime(http_date)
    except (TypeError, ValueError, IndexError, OverflowError):
        return None
    if when.tzinfo is None:  # "-0000": UTC by RFC 5322
        when = when.replace(tzinfo=UTC)
    seconds = (when - datetime.now(UTC)).total_seconds()
    return max(seconds, 0.0) if math.isfinite(seconds) else None


def retry_after_of(headers: Mapping[str, str]) -> float | None:
    """The wait a vendor's headers ask for: ``Retry-After``, ``retry-after-ms``, else the reset time OpenAI
    sends in ``x-ratelimit-reset-requests`` / ``-tokens`` for the limit that is spent
    (``x-ratelimit-remaining-*: 0``), else the longest of those resets. ``Retry-After`` may be seconds or an
    HTTP date. ``headers`` is case-insensitive."""
    seconds = parse_retry_after(headers.get("retry-after"))
    if seconds is not None:
        return seconds
    milliseconds = parse_retry_after(headers.get("retry-after-ms"), dates=False)
    if milliseconds is not None:
        return milliseconds / 1000
    resets = {limit: _reset_seconds(headers.get(f"x-ratelimit-reset-{limit}")) for limit in ("requests", "tokens")}
    known = {limit: value for limit, value in resets.items() if value is not None}
    spent = [value for limit, value in known.items() if headers.get(f"x-ratelimit-remaining-{limit}") == "0"]
    candidates = spent or list(known.values())
    return max(candidates) if candidates else None


def _reset_seconds(value: str | None) -> float | None:
    value = (value or "").strip()
    if not RESET.fullmatch(value):
        return None
    return sum(float(number) * RESET_UNITS[unit] for number, unit in RESET_PART.findall(value))
