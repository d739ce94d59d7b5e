"""OpenAI-style error bodies, shared by the ``openai_images``, ``chat_image`` and ``openai_chat`` kinds.

Shapes (docs/vendor-protocols §1, §3.1, §4.1, §4.3, §10):

- OpenAI, OpenRouter, DeepSeek, relays: ``{"error": {"message", "type", "code", "param", "metadata"}}``
- xAI: ``{"code": "...", "error": "Incorrect API key provided: ..."}`` (a bad key is a 400)
- Gemini's compat endpoint: ``[{"error": {"code": 400, "status": "INVALID_ARGUMENT", "details": [{"reason": ...}]}}]``

Decision order: 429 by its code (``insufficient_quota`` is billing, the rest a cooldown lasting ``Retry-After`` /
``retry-after-ms``, or else OpenAI's ``x-ratelimit-reset-*`` of the spent limit); 408 and 5xx are outages;
then moderation markers, then key or balance markers; then the status alone. A 403 means moderation on
OpenRouter but a permission problem elsewhere, so the caller says which (``forbidden``).

"""

from __future__ import annotations

import re
from typing import Any

import httpx

from vendors import errors
from vendors.adapters.base import clean_message, json_body

MODERATION_CODES = {"content_policy_violation", "moderation_blocked", "content_filter", "image_safety", "moderation"}
MODERATION_WORDS = ("content policy", "content_policy", "moderation", "flagged", "safety system", "nsfw", "sensitive")
MODERATION_WORDS += ("敏感", "违规")
KEY_CODES = {"invalid_api_key", "api_key_invalid", "account_deactivated", "permission_denied", "unauthenticated"}
KEY_WORDS = ("invalid api key", "incorrect api key", "api key not valid", "api key is invalid", "invalid token")
KEY_WORDS += ("token is invalid", "permission denied", "unauthorized", "unauthenticated", "authentication fail")
BILLING_CODES = {"insufficient_quota", "billing_hard_limit_reached", "billing_not_active"}
BALANCE_WORDS = ("insufficient balance", "insufficient credit", "balance is insufficient", "not enough credit")
BALANCE_WORDS += ("余额", "额度")
RESET = re.compile(r"(?:\d+(?:\.\d+)?(?:ms|h|m|s))+")  # OpenAI's x-ratelimit-reset-*: "1s", "6m0s", "20ms"
RESET_PART = re.compile(r"(\d+(?:\.\d+)?)(ms|h|m|s)")
RESET_UNITS = {"ms": 0.001, "s": 1.0, "m": 60.0, "h": 3600.0}


def bearer_headers(key: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {key}", "Content-Type": "application/json", "Accept": "application/json"}


def markers(body: Any) -> set[str]:
    """Lower-cased machine codes of an error body: code, type, status, details[].reason."""
    if isinstance(body, list) and body:
        body = body[0]
    if not isinstance(body, dict):
        return set()
    error = body.get("error") if isinstance(body.get("error"), dict) else body
    found = {str(error[field]).lower() for field in ("code", "type", "status") if isinstance(error.get(field), str)}
    for detail in error.get("details") or []:
        if isinstance(detail, dict) and isinstance(detail.get("reason"), str):
            found.add(detail["reason"].lower())
    metadata = error.get("metadata")
    if isinstance(metadata, dict) and metadata.get("reasons"):  # OpenRouter's moderation flag
        found.add("moderation")
    return found


def looks_like_moderation(text: str, codes: set[str] = frozenset()) -> bool:
    return bool(codes & MODERATION_CODES) or any(word in text.lower() for word in MODERATION_WORDS)


def looks_like_bad_key(text: str, codes: set[str] = frozenset()) -> bool:
    return bool(codes & KEY_CODES) or any(word in text.lower() for word in KEY_WORDS)


def looks_like_no_balance(text: str, codes: set[str] = frozenset()) -> bool:
    return bool(codes & BILLING_CODES) or any(word in text.lower() for word in BALANCE_WORDS)


def classify_openai_error(
    response: httpx.Response,
    *,
    status: int | None = None,
    body: Any = None,
    forbidden: type[errors.UpstreamError] = errors.KeyRejected,
) -> errors.UpstreamError:
    """Map an OpenAI-style failure onto the error tree. ``status`` overrides the HTTP one (errors inside a 200)."""
    status = status or response.status_code
    if body is None:
        body = json_body(response)
    message, codes = clean_message(response, body), markers(body)
    if status == 429:
        if looks_like_no_balance(message, codes):
            return errors.KeyRejected(message, vendor_status=status)
        return errors.RateLimited(message, retry_after=retry_after_of(response), vendor_status=status)
    if status == 408 or status >= 500:
        return errors.UpstreamUnavailable(message, vendor_status=status)
    if status in (401, 402):
        return errors.KeyRejected(message, vendor_status=status)
    if looks_like_moderation(message, codes):
        return errors.ContentPolicy(message, vendor_status=status)
    if looks_like_bad_key(message, codes) or looks_like_no_balance(message, codes):
        return errors.KeyRejected(message, vendor_status=status)
    if status == 403:
        return forbidden(message, vendor_status=status)
    return errors.BadRequest(message, vendor_status=status)


def retry_after_of(response: httpx.Response) -> float | None:
    """Seconds to wait after a 429: ``Retry-After``, ``retry-after-ms``, else the reset time OpenAI sends in
    ``x-ratelimit-reset-requests`` / ``-tokens`` for the limit that is spent (``x-ratelimit-remaining-*: 0``)."""
    headers = response.headers
    seconds = errors.parse_retry_after(headers.get("retry-after"))
    if seconds is not None:
        return seconds
    milliseconds = errors.parse_retry_after(headers.get("retry-after-ms"))
    if milliseconds is not None:
        return milliseconds / 1000
    resets = {limit: _reset_seconds(headers.get(f"x-ratelimit-reset-{limit}")) for limit in ("requests", "tokens")}
    resets = {limit: value for limit, value in resets.items() if value is not None}
    spent = [value for limit, value in resets.items() if headers.get(f"x-ratelimit-remaining-{limit}") == "0"]
    candidates = spent or list(resets.values())
    return max(candidates) if candidates else None


def _reset_seconds(value: str | None) -> float | None:
    value = (value or "").strip()
    if not RESET.fullmatch(value):
        return None
    return sum(float(number) * RESET_UNITS[unit] for number, unit in RESET_PART.findall(value))


def error_in_success(
    response: httpx.Response, body: Any, *, forbidden: type[errors.UpstreamError] = errors.KeyRejected
) -> errors.UpstreamError | None:
    """The error carried by an HTTP 200 body (OpenRouter does that after generation started), if any."""
    if not isinstance(body, dict) or not body.get("error"):
        return None
    error = body["error"]
    code = error.get("code") if isinstance(error, dict) else None
    if isinstance(code, str) and code.isdigit():
        code = int(code)
    if isinstance(code, int) and 400 <= code <= 599:
        return classify_openai_error(response, status=code, body=body, forbidden=forbidden)
    message, codes = clean_message(response, body), markers(body)
    if looks_like_moderation(message, codes):
        return errors.ContentPolicy(message, vendor_status=response.status_code)
    if looks_like_bad_key(message, codes) or looks_like_no_balance(message, codes):
        return errors.KeyRejected(message, vendor_status=response.status_code)
    return errors.GenerationFailed(message, vendor_status=response.status_code)
