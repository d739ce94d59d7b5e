"""Stability AI Stable Image (v2beta): https://platform.stability.ai/docs/api-reference

Endpoint: the vendor's base URL. Set it to the service itself, e.g.
``https://api.stability.ai/v2beta/stable-image/generate/core`` (or ``.../generate/ultra``, ``.../generate/sd3``),
and that URL is used as it is. A base that stops short of ``/generate/<service>`` gets the rest appended
(``.../v2beta`` -> ``/stable-image/generate/<service>``, ``.../stable-image`` -> ``/generate/<service>``,
``.../generate`` -> ``/<service>``, a bare host -> ``/v2beta/stable-image/generate/<service>``), the service
chosen by the model's upstream name: containing "sd3" -> ``sd3``, containing "ultra" -> ``ultra``, else ``core``.
So one vendor row with the base ``https://api.stability.ai/v2beta`` can serve ``stable-image-core``,
``stable-image-ultra`` and ``sd3.5-large`` models.

Request: always ``multipart/form-data`` (even with no file), ``Authorization: Bearer sk-…``, ``Accept: image/*``.
Fields: ``prompt``, the size as the model's ``size_format`` says (default ``aspect_ratio``: v2beta takes no
width/height; sizing has already picked one of 16:9 1:1 21:9 2:3 3:2 4:5 5:4 9:16 9:21), ``output_format: png``,
and ``model`` (the upstream name) on the ``sd3`` service only. One image per call.

Answer, by its Content-Type: ``image/*`` -> the raw bytes, ``finish-reason`` and ``seed`` in headers;
``application/json`` -> ``{"image": base64, "finish_reason", "seed"}`` (the image type in ``; type=image/png``).
A 200 whose finish reason is ``CONTENT_FILTERED`` holds a blurred image: it is ContentPolicy, never delivered.

Errors ``{"id", "name", "errors": [...]}``: 401 -> KeyRejected; 402 (credits) -> KeyRejected; **403 is
moderation here** (``name: content_moderation``) -> ContentPolicy, unless the text names a bad key (a 403 that is
not Stability's JSON, a proxy's page, is UpstreamUnavailable); 429 -> RateLimited for at least 60 s (Stability
locks a key out for 60 s after the limit); 408/5xx -> UpstreamUnavailable; 400/404/413/422 -> BadRequest.
"""

from __future__ import annotations

import re
from typing import Any

import httpx

from vendors import errors
from vendors.adapters.base import Adapter, ImageRequest, UpstreamImage, json_body
from vendors.adapters.openai_errors import clean_message, looks_like_bad_key, looks_like_moderation

SERVICE_URL = re.compile(r"/generate/[\w.-]+$")
LOCKOUT_SECONDS = 60.0  # Stability locks a key out for 60 s once it passes the rate limit
FILTERED = "CONTENT_FILTERED"


class StabilityAdapter(Adapter):
    kind = "stability"
    label = "Stability AI Stable Image (v2beta)"
    purpose = "image"
    default_size_format = "aspect_ratio"
    batch_limit = 1

    def endpoint(self, request: ImageRequest) -> str:
        base = self.vendor.base_url.rstrip("/")
        if SERVICE_URL.search(base):
            return base
        service = service_for(request.model)
        for stem, rest in (
            ("/generate", f"/{service}"),
            ("/stable-image", f"/generate/{service}"),
            ("/v2beta", f"/stable-image/generate/{service}"),
        ):
            if base.endswith(stem):
                return base + rest
        return f"{base}/v2beta/stable-image/generate/{service}"

    def build_request(self, request: ImageRequest, key: str) -> httpx.Request:
        url = self.endpoint(request)
        fields: dict[str, Any] = {"prompt": request.prompt, **self.size_fields(request), "output_format": "png"}
        if url.endswith("/sd3") and request.model:
            fields["model"] = request.model
        # (None, value) parts are plain form fields; passing them as files keeps the body multipart.
        files = {name: (None, str(value)) for name, value in fields.items()}
        headers = {"Authorization": f"Bearer {key}", "Accept": "image/*"}
        return httpx.Request("POST", url, headers=headers, files=files)

    def parse_response(self, response: httpx.Response) -> list[UpstreamImage]:
        media_type, params = _content_type(response)
        status = response.status_code
        if media_type.startswith("image/"):
            _check_finish(response.headers.get("finish-reason"))
            if not response.content:
                raise errors.GenerationFailed("the vendor answered with an empty image", vendor_status=status)
            seed = _int(response.headers.get("seed"))
            return [UpstreamImage(data=response.content, content_type=media_type, seed=seed)]
        body = json_body(response)
        if not isinstance(body, dict):
            raise errors.GenerationFailed("the vendor answered without an image", vendor_status=status)
        _check_finish(body.get("finish_reason") or response.headers.get("finish-reason"))
        image = body.get("image")
        if isinstance(image, str) and image:
            content_type = params.get("type") if params.get("type", "").startswith("image/") else None
            return [UpstreamImage(b64=image, content_type=content_type, seed=_int(body.get("seed")))]
        raise errors.GenerationFailed("the vendor answered without an image", vendor_status=status)

    def classify_error(self, response: httpx.Response) -> errors.UpstreamError:
        body = json_body(response)
        stability_body = isinstance(body, dict) and ("name" in body or "errors" in body)
        name = str(body.get("name") or "").lower() if isinstance(body, dict) else ""
        message, status = _message(response, body), response.status_code
        if name == "content_moderation" or (status < 500 and status != 429 and looks_like_moderation(message)):
            return errors.ContentPolicy(message, vendor_status=status)
        if status == 429:
            retry_after = errors.parse_retry_after(response.headers.get("retry-after")) or 0.0
            return errors.RateLimited(message, retry_after=max(retry_after, LOCKOUT_SECONDS), vendor_status=status)
        if status in (401, 402) or (status == 403 and looks_like_bad_key(message)):
            return errors.KeyRejected(message, vendor_status=status)
        if status == 403:
            if stability_body:  # the only documented 403 is moderation
                return errors.ContentPolicy(message, vendor_status=status)
            return errors.UpstreamUnavailable(message, vendor_status=status)
        if status == 408 or status >= 500:
            return errors.UpstreamUnavailable(message, vendor_status=status)
        return errors.BadRequest(message, vendor_status=status)


def service_for(model: str) -> str:
    """The v2beta generate service a model name belongs to, for bases that do not name one."""
    name = model.lower()
    if "sd3" in name:
        return "sd3"
    return "ultra" if "ultra" in name else "core"


def _check_finish(reason: Any) -> None:
    reason = str(reason or "").strip().upper()
    if reason == FILTERED:
        raise errors.ContentPolicy(
            "the vendor's safety filter obscured the generated image (finish reason CONTENT_FILTERED)",
            vendor_status=200,
        )
    if reason == "ERROR":
        raise errors.GenerationFailed("the vendor reported an error while generating", vendor_status=200)


def _message(response: httpx.Response, body: Any) -> str:
    """Stability's ``errors`` list joined (its ``name`` when the list is empty), scrubbed."""
    if isinstance(body, dict):
        texts = [text for text in body.get("errors") or [] if isinstance(text, str) and text.strip()]
        text = "; ".join(texts) or (body.get("name") if isinstance(body.get("name"), str) else "")
        if text:
            return clean_message(response, {"message": text})
    return clean_message(response, body)


def _content_type(response: httpx.Response) -> tuple[str, dict[str, str]]:
    media_type, *rest = response.headers.get("content-type", "").split(";")
    params = {}
    for part in rest:
        name, _, value = part.partition("=")
        params[name.strip().lower()] = value.strip().strip('"').lower()
    return media_type.strip().lower(), params


def _int(value: Any) -> int | None:
    if isinstance(value, int) and not isinstance(value, bool):
        return value
    try:
        return int(str(value).strip())
    except (TypeError, ValueError):
        return None
