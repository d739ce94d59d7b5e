"""SiliconFlow image generation: https://docs.siliconflow.cn/api-reference/images/images-generations

Request: ``POST {base}/images/generations`` (or the base itself when it is that endpoint already), Bearer key,
JSON ``{model, prompt, image_size: "WxH"}``, plus ``batch_size: n`` when more than one image is asked for.

Answer: ``{"images": [{"url": ...}], "timings": {...}, "seed": 123}``; the URLs live one hour, so the caller
downloads them at once. ``data[].url`` / ``b64_json`` are accepted too, for relays that answer OpenAI-style.

Errors (https://docs.siliconflow.com/en/faqs/error-code): bodies are a JSON object, a bare JSON string
(``"Invalid token"``) or plain text. 401/403 (invalid key, real-name check, "Model disabled." 30003) and balance
messages -> KeyRejected; moderation wording -> ContentPolicy; 429 -> RateLimited; 5xx -> UpstreamUnavailable;
other 4xx -> BadRequest with the vendor's message.
"""

from __future__ import annotations

from typing import Any

import httpx

from vendors import errors
from vendors.adapters.base import Adapter, ImageRequest, UpstreamImage, json_body
from vendors.adapters.openai_errors import (
    bearer_headers,
    clean_message,
    looks_like_moderation,
    looks_like_no_balance,
)

KEY_CODES = {30003, 30014}  # "Model disabled." (permission, real-name check), "Token is invalid."


class SiliconFlowAdapter(Adapter):
    kind = "siliconflow"
    label = "SiliconFlow images (JSON image URLs)"
    purpose = "image"
    size_field = "image_size"
    batch_limit = 4  # batch_size 1-4

    def build_request(self, request: ImageRequest, key: str) -> httpx.Request:
        payload = {"model": request.model, "prompt": request.prompt, **self.size_fields(request)}
        if request.n > 1:  # documented for Kolors only; other models need not know the field
            payload["batch_size"] = request.n
        url = self.url("images/generations")
        return httpx.Request("POST", url, headers=bearer_headers(key), json=payload)

    def parse_response(self, response: httpx.Response) -> list[UpstreamImage]:
        body = json_body(response)
        if not isinstance(body, dict):
            raise errors.GenerationFailed("the vendor answered without JSON", vendor_status=response.status_code)
        seed = body.get("seed") if isinstance(body.get("seed"), int) else None
        images = [image for item in _items(body) if (image := _image(item, seed)) is not None]
        if images:
            return images
        message = clean_message(response, body) if _has_message(body) else "the vendor answered without an image"
        if looks_like_moderation(message):
            raise errors.ContentPolicy(message, vendor_status=response.status_code)
        raise errors.GenerationFailed(message, vendor_status=response.status_code)

    def classify_error(self, response: httpx.Response) -> errors.UpstreamError:
        body = json_body(response)
        message, status = clean_message(response, body), response.status_code
        code = body.get("code") if isinstance(body, dict) else None
        if status == 429:
            retry_after = errors.parse_retry_after(response.headers.get("retry-after"))
            return errors.RateLimited(message, retry_after=retry_after, vendor_status=status)
        if status >= 500 or status == 408:
            return errors.UpstreamUnavailable(message, vendor_status=status)
        if looks_like_moderation(message):
            return errors.ContentPolicy(message, vendor_status=status)
        if status in (401, 402, 403) or code in KEY_CODES or looks_like_no_balance(message):
            return errors.KeyRejected(message, vendor_status=status)
        return errors.BadRequest(message, vendor_status=status)


def _items(body: dict[str, Any]) -> list[Any]:
    items: list[Any] = []
    for field in ("images", "data"):
        if isinstance(body.get(field), list):
            items.extend(body[field])
    return items


def _image(item: Any, seed: int | None) -> UpstreamImage | None:
    if isinstance(item, str) and item.startswith(("http://", "https://")):
        return UpstreamImage(url=item, seed=seed)
    if not isinstance(item, dict):
        return None
    item_seed = item.get("seed") if isinstance(item.get("seed"), int) else seed
    if isinstance(item.get("url"), str) and item["url"]:
        return UpstreamImage(url=item["url"], seed=item_seed)
    for field in ("b64_json", "b64", "base64"):
        if isinstance(item.get(field), str) and item[field]:
            return UpstreamImage(b64=item[field], seed=item_seed)
    return None


def _has_message(body: dict[str, Any]) -> bool:
    return any(isinstance(body.get(field), str) and body[field] for field in ("message", "error", "detail"))
