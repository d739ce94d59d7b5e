"""Cloudflare Workers AI text-to-image: https://developers.cloudflare.com/workers-ai/models/

Endpoint: ``POST {base}/accounts/{account_id}/ai/run/{model}``, the model being its full id
(``@cf/stabilityai/stable-diffusion-xl-base-1.0``, ``@cf/black-forest-labs/flux-1-schnell``, ...).

Keys. Cloudflare puts the account id in the URL, so a key of this kind is the pair (account id, API token):

- **``ACCOUNT_ID:API_TOKEN``** (split on the first ``:``), with the base ``https://api.cloudflare.com/client/v4``.
  This is the usual form: keys of several accounts can then share one vendor row. (A bare host as base gets
  ``/client/v4`` added; a base that names an account anyway has that part replaced by the key's account.)
- a plain API token, when the base URL already names the account:
  ``https://api.cloudflare.com/client/v4/accounts/<account_id>`` (a base ending in ``/ai/run`` or in a model id
  is cut back to the account). A plain token with a base that names no account cannot work: KeyRejected, saying
  so.

The token goes in ``Authorization: Bearer``; error messages never show it, and mask the account id.

Request: JSON ``{prompt}`` plus the size as the model's ``size_format`` says, by default ``width``/``height``
integers (SDXL family: 256-2048). flux-1-schnell takes no size: set its ``size_format`` to ``none``; a model
whose id contains "flux" and whose ``size_format`` is left at the default gets no size either. One image per call.

Answer, by its Content-Type: ``image/*`` -> the raw bytes (SDXL family: PNG); ``application/json`` -> the
Cloudflare envelope ``{"result": {"image": base64}, "success": true, ...}`` (flux-1-schnell: a JPEG). A 200
envelope with ``success: false`` is classified like an error answer; no image at all is GenerationFailed.

Errors, envelope ``{"result": null, "success": false, "errors": [{"code", "message"}]}``, decided by code first:

- code 10000 (401/403, bad or under-scoped token), 403 codes 3023/5018/3041/5016 (account blocked, private
  model, model terms not accepted), any other 401/403 -> KeyRejected;
- 429 code **3036** (the day's free allocation is spent) -> RateLimited until the next 00:00 UTC (plus a minute),
  so the key comes back after the daily reset instead of being disabled;
- 429 code **3040** (out of capacity) -> UpstreamUnavailable: retry or fail over, not the key's fault;
- other 429 -> RateLimited (Retry-After honoured);
- 404 (codes 3042/7003: bad model name, or no such account) -> BadRequest telling the operator to check the
  model name and the account id;
- 408 (3007/3008), 5xx -> UpstreamUnavailable;
- 400 (5007/5004/3003), 413 (3006) and other 4xx -> BadRequest (ContentPolicy when the text reads like
  moderation; Workers AI's moderation answer is undocumented).
"""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import urlsplit

import httpx

from core.redaction import scrub
from vendors import errors
from vendors.adapters.base import Adapter, ImageRequest, UpstreamImage, json_body
from vendors.adapters.openai_errors import clean_message, looks_like_moderation

ACCOUNT_IN_BASE = re.compile(r"/accounts/([^/]+)")
AUTH_CODES = {10000}
ACCOUNT_CODES = {3023, 5018, 3041, 5016}  # account blocked, private model, model terms not accepted
DAILY_QUOTA = 3036
NO_CAPACITY = 3040
NOT_FOUND_CODES = {3042, 7003}
TIMEOUT_CODES = {3007, 3008}
RESET_MARGIN = 60.0  # seconds past 00:00 UTC before a key whose daily allocation was spent is tried again
B64_SIGNATURES = {"/9j/": "image/jpeg", "iVBORw0KGgo": "image/png", "UklGR": "image/webp"}


class WorkersAIAdapter(Adapter):
    kind = "workers_ai"
    label = "Cloudflare Workers AI text-to-image"
    purpose = "image"
    default_size_format = "width_height"
    batch_limit = 1

    def endpoint(self, model: str, key: str) -> tuple[str, str, str]:
        """``(url, account_id, token)`` for this model and key (see the module docstring)."""
        base = self.vendor.base_url.rstrip("/")
        found = ACCOUNT_IN_BASE.search(base)
        account, separator, token = (part.strip() for part in key.partition(":"))
        if separator and account and token:
            root = base[: found.start()] if found else base
            if not urlsplit(root).path.strip("/"):
                root += "/client/v4"
            prefix = f"{root}/accounts/{account}"
        elif not separator and found and key.strip():
            account, token, prefix = found.group(1), key.strip(), base[: found.end()]
        else:
            raise errors.KeyRejected(
                "the Workers AI key names no account: store it as ACCOUNT_ID:API_TOKEN, "
                "or put /accounts/<account id> in the vendor's base URL"
            )
        return f"{prefix}/ai/run/{model.strip().strip('/')}", account, token

    def build_request(self, request: ImageRequest, key: str) -> httpx.Request:
        url, _, token = self.endpoint(request.model, key)
        payload: dict[str, Any] = {"prompt": request.prompt}
        if request.size_format or "flux" not in request.model.lower():
            payload.update(self.size_fields(request))
        headers = {"Authorization": f"Bearer {token}", "Content-Type": "application/json"}
        return httpx.Request("POST", url, headers=headers, json=payload)

    def parse_response(self, response: httpx.Response) -> list[UpstreamImage]:
        media_type = response.headers.get("content-type", "").split(";")[0].strip().lower()
        status = response.status_code
        if media_type.startswith("image/"):
            if not response.content:
                raise errors.GenerationFailed("the vendor answered with an empty image", vendor_status=status)
            return [UpstreamImage(data=response.content, content_type=media_type)]
        body = json_body(response)
        if isinstance(body, dict) and body.get("success") is False:
            raise self.classify_error(response)
        result = body.get("result") if isinstance(body, dict) else None
        image = result.get("image") if isinstance(result, dict) else result
        if isinstance(image, str) and image:
            return [UpstreamImage(b64=image, content_type=_sniff(image))]
        raise errors.GenerationFailed("the vendor answered without an image", vendor_status=status)

    def classify_error(self, response: httpx.Response) -> errors.UpstreamError:
        body = json_body(response)
        codes = _codes(body)
        message, status = self._message(response, body, codes), response.status_code
        if DAILY_QUOTA in codes:
            return errors.RateLimited(message, retry_after=seconds_until_reset(), vendor_status=status)
        if NO_CAPACITY in codes:
            return errors.UpstreamUnavailable(message, vendor_status=status)
        if codes & (AUTH_CODES | ACCOUNT_CODES) or status in (401, 402, 403):
            return errors.KeyRejected(message, vendor_status=status)
        if status == 429:
            retry_after = errors.parse_retry_after(response.headers.get("retry-after"))
            return errors.RateLimited(message, retry_after=retry_after, vendor_status=status)
        if status == 404 or codes & NOT_FOUND_CODES:
            hint = "Workers AI found no such model or account (check the model name and the account id)"
            return errors.BadRequest(f"{hint}: {message}", vendor_status=status)
        if status == 408 or status >= 500 or codes & TIMEOUT_CODES:
            return errors.UpstreamUnavailable(message, vendor_status=status)
        if looks_like_moderation(message):
            return errors.ContentPolicy(message, vendor_status=status)
        if status < 400:  # a 200 envelope with success: false and a code of no known meaning
            return errors.GenerationFailed(message, vendor_status=status)
        return errors.BadRequest(message, vendor_status=status)

    def _message(self, response: httpx.Response, body: Any, codes: set[int]) -> str:
        message = clean_message(response, body)
        account = ACCOUNT_IN_BASE.search(str(response.request.url.path)) if _has_request(response) else None
        if account:
            message = scrub(message, account.group(1))
        if codes:
            message += f" (code {', '.join(str(code) for code in sorted(codes))})"
        return message


def seconds_until_reset(now: datetime | None = None) -> float:
    """Seconds until Workers AI's daily free allocation resets (00:00 UTC), plus a margin."""
    now = now or datetime.now(UTC)
    midnight = (now + timedelta(days=1)).replace(hour=0, minute=0, second=0, microsecond=0)
    return (midnight - now).total_seconds() + RESET_MARGIN


def _codes(body: Any) -> set[int]:
    found = set()
    for error in (body.get("errors") if isinstance(body, dict) else None) or []:
        code = error.get("code") if isinstance(error, dict) else None
        if isinstance(code, int) or (isinstance(code, str) and code.isdigit()):
            found.add(int(code))
    return found


def _sniff(b64: str) -> str | None:
    return next((kind for signature, kind in B64_SIGNATURES.items() if b64.startswith(signature)), None)


def _has_request(response: httpx.Response) -> bool:
    try:
        response.request  # noqa: B018
    except RuntimeError:
        return False
    return True
