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

Input images (the img2img and inpainting models, ``@cf/runwayml/stable-diffusion-v1-5-img2img`` /
``-inpainting``): ``image_b64``, the file base64-encoded (the schema's other form, ``image``, is the same
bytes as an array of 0-255 integers), plus ``strength`` (``inputs.IMAGE_STRENGTH``: the default of 1 would
ignore the image); a mask is ``mask``, a black-and-white PNG (white = repaint, made from OpenAI's
transparent = change) as an array of 0-255 integers, the only form the schema has for it. One image.
``negative_prompt`` is passed on when given.

Answer, by its Content-Type: ``image/*`` -> the raw bytes (SDXL family: PNG); ``application/json`` -> the
Cloudflare envelope ``{"result": {"image": base64}, "success": true, ...}`` (flux-1-schnell: a JPEG). A 200
envelope with ``success: false`` is classified like an error answer; no image at all is GenerationFailed.

Errors, envelope ``{"result": null, "success": false, "errors": [{"code", "message"}]}``, decided by
``vendors.errors.classify``; Workers AI declares what its codes mean, looked at before the status:

- code 10000 (bad or under-scoped token) means a 401, and 3023/5018/3041/5016 (account blocked, private
  model, model terms not accepted) are KeyRejected, whatever the status;
- code **3036** (the day's free allocation is spent) means a 429, and its wait is until the next 00:00 UTC
  (plus a minute), so the key comes back after the daily reset instead of being disabled;
- code **3040** (out of capacity) means a 503: retry or fail over, not the key's fault;
- codes 3042/7003 (bad model name, no such account) mean a 404: BadRequest telling the operator to check
  the model name and the account id (the kind's ``not_found_hint``, for any 404);
- codes 3007/3008 (timeout, aborted) mean a 408: UpstreamUnavailable.

The rest is the common order: other 429 -> RateLimited (Retry-After honoured), 401/402/403 -> KeyRejected,
5xx -> UpstreamUnavailable, moderation wording -> ContentPolicy (Workers AI's moderation answer is
undocumented), 400 (5007/5004/3003), 413 (3006) and other 4xx -> BadRequest; a 200 envelope with
``success: false`` and no known code -> GenerationFailed. Messages end with the codes, ``(code 3036)``.
"""

from __future__ import annotations

import dataclasses
import re
from datetime import UTC, datetime, timedelta
from urllib.parse import urlsplit

import httpx

from core.redaction import scrub
from vendors import errors
from vendors.adapters.base import ImageAdapter, ImageRequest, UpstreamImage
from vendors.adapters.inputs import IMAGE_STRENGTH, black_and_white_mask, refuse_uncarried
from vendors.adapters.reading import Json, as_dict, json_body
from vendors.errors import ErrorFacts, ErrorTable

ACCOUNT_IN_BASE = re.compile(r"/accounts/([^/]+)")
DAILY_QUOTA = "3036"
RESET_MARGIN = 60.0  # seconds past 00:00 UTC before a key whose daily allocation was spent is tried again
B64_SIGNATURES = {"/9j/": "image/jpeg", "iVBORw0KGgo": "image/png", "UklGR": "image/webp"}


class WorkersAIAdapter(ImageAdapter):
    kind = "workers_ai"
    label = "Cloudflare Workers AI text-to-image"
    default_size_format = "width_height"
    batch_limit = 1
    input_image_limit = 1
    carries_mask = True
    error_table = ErrorTable(
        codes={
            DAILY_QUOTA: 429,  # the day's free allocation is spent: rest until the reset (see error_facts)
            "3040": 503,  # out of capacity
            "10000": 401,  # authentication error (bad or under-scoped token)
            "3023": errors.KeyRejected,  # account blocked
            "5018": errors.KeyRejected,  # private model
            "3041": errors.KeyRejected,  # model terms not accepted
            "5016": errors.KeyRejected,  # model terms not accepted
            "3042": 404,  # invalid model name
            "7003": 404,  # could not route: no such account
            "3007": 408,  # timeout
            "3008": 408,  # aborted
        },
        not_found_hint="Workers AI found no such model or account (check the model name and the account id)",
    )

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
        payload: dict[str, Json] = {"prompt": request.prompt}
        if request.size_format or "flux" not in request.model.lower():
            payload.update(self.size_fields(request))
        refuse_uncarried(request, most=self.input_image_limit, mask=self.carries_mask, model=request.model)
        if request.images:
            payload.update(image_b64=request.images[0].b64(), strength=IMAGE_STRENGTH)
        if request.mask is not None:
            payload["mask"] = list(black_and_white_mask(request.mask))
        if request.negative_prompt:
            payload["negative_prompt"] = request.negative_prompt
        headers = {"Authorization": f"Bearer {token}", "Content-Type": "application/json"}
        return httpx.Request("POST", url, headers=headers, json=payload)

    def probe_requests(self, key: str) -> list[httpx.Request]:
        # The account's Workers AI model search: needs the token and the account to match, runs nothing.
        url, _, token = self.endpoint("probe", key)
        search = url.removesuffix("/run/probe") + "/models/search"
        headers = {"Authorization": f"Bearer {token}", "Accept": "application/json"}
        return [httpx.Request("GET", search, params={"per_page": 1}, headers=headers)]

    def probe_summary(self, body: Json) -> str:
        return "the account's Workers AI models are readable" if as_dict(body).get("success") else ""

    def parse_response(self, response: httpx.Response) -> list[UpstreamImage]:
        media_type = response.headers.get("content-type", "").split(";")[0].strip().lower()
        status = response.status_code
        if media_type.startswith("image/"):
            if not response.content:
                raise errors.GenerationFailed("the vendor answered with an empty image", vendor_status=status)
            return [UpstreamImage(data=response.content, content_type=media_type)]
        body = json_body(response)
        if isinstance(body, dict) and body.get("success") is False:
            raise self.classify_error(response)  # a failure carried in a 200: classified as one
        result = body.get("result") if isinstance(body, dict) else None
        image = result.get("image") if isinstance(result, dict) else result
        if isinstance(image, str) and image:
            return [UpstreamImage(b64=image, content_type=_sniff(image))]
        raise errors.GenerationFailed("the vendor answered without an image", vendor_status=status)

    def error_facts(self, response: httpx.Response, body: Json) -> ErrorFacts:
        facts = super().error_facts(response, body)
        message = facts.message
        account = ACCOUNT_IN_BASE.search(str(response.request.url.path)) if _has_request(response) else None
        if account:
            message = scrub(message, account.group(1))
        codes = sorted((code for code in facts.codes if code.isdigit()), key=int)
        if codes:
            message += f" (code {', '.join(codes)})"
        retry_after = seconds_until_reset() if DAILY_QUOTA in facts.codes else facts.retry_after
        return dataclasses.replace(facts, message=message, retry_after=retry_after)


def seconds_until_reset(now: datetime | None = None) -> float:
    """Seconds until Workers AI's daily free allocation resets (00:00 UTC), plus a margin."""
    now = now or datetime.now(UTC)
    midnight = (now + timedelta(days=1)).replace(hour=0, minute=0, second=0, microsecond=0)
    return (midnight - now).total_seconds() + RESET_MARGIN


def _sniff(b64: str) -> str | None:
    return next((kind for signature, kind in B64_SIGNATURES.items() if b64.startswith(signature)), None)


def _has_request(response: httpx.Response) -> bool:
    try:
        response.request  # noqa: B018
    except RuntimeError:
        return False
    return True
