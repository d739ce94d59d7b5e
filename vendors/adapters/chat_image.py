"""Image models behind ``/chat/completions``: https://openrouter.ai/docs/features/multimodal/image-generation

Request: ``POST {base}/chat/completions`` (or the base itself when it is that endpoint already), Bearer key,
JSON ``{model, messages: [{role: user, content: prompt}], modalities: ["image", "text"],
image_config: {aspect_ratio: "W:H"}, stream: false}``. Relays that do not know ``image_config`` ignore it.

Answer, searched in this order (vendor-protocols §4.4): ``message.images[].image_url.url`` (OpenRouter, Vercel);
``content`` parts of type ``image_url``; in a string ``content`` Markdown ``![..](url)``, then a bare
``data:image/...;base64,`` URL, then a bare https URL ending in png/jpg/jpeg/webp; Gemini ``inlineData`` parts;
a raw ``image/*`` body. Data URLs become ``UpstreamImage(b64, content_type)``, http URLs ``UpstreamImage(url)``.
No image: a content-filter finish reason or a refusal -> ContentPolicy, else GenerationFailed.

Errors (https://openrouter.ai/docs/api/reference/errors-and-debugging, via ``openai_errors``): 401/402 ->
KeyRejected; **403 -> ContentPolicy** (moderation) unless it names a bad key; 408/5xx -> UpstreamUnavailable;
429 -> RateLimited (``insufficient_quota`` -> KeyRejected); Gemini 400 ``API_KEY_INVALID`` and xAI 400
"Incorrect API key" -> KeyRejected; ``content_policy_violation`` -> ContentPolicy. A 200 whose body holds an
``error`` is classified the same way, with ``error.code`` as the status.
"""

from __future__ import annotations

import re
from typing import Any

import httpx

from core.redaction import scrub
from vendors import errors
from vendors.adapters.base import Adapter, ImageRequest, UpstreamImage, json_body
from vendors.adapters.openai_chat import text_of
from vendors.adapters.openai_errors import (
    bearer_headers,
    classify_openai_error,
    error_in_success,
    looks_like_moderation,
)

MARKDOWN_IMAGE = re.compile(r"!\[[^\]]*\]\(([^)\s]+)\)")
DATA_URL = re.compile(r"data:(image/[\w.+-]+);base64,([A-Za-z0-9+/=]+)")
HTTP_IMAGE = re.compile(r"https?://[^\s()<>\"'\]]+\.(?:png|jpe?g|webp)(?:\?[^\s()<>\"'\]]*)?(?![\w./-])", re.I)
FILTER_REASONS = ("content_filter", "safety", "prohibited", "blocklist", "spii")
REFUSAL = re.compile(r"\b(?:i can(?:no|'|’)?t|i(?:'|’)m (?:not able|unable)|i am (?:not able|unable)|i won(?:'|’)t)\b")
REFUSAL_ZH = ("抱歉", "无法")


class ChatImageAdapter(Adapter):
    kind = "chat_image"
    label = "Chat-completions image model"
    purpose = "image"
    default_size_format = "aspect_ratio"

    def build_request(self, request: ImageRequest, key: str) -> httpx.Request:
        payload = {
            "model": request.model,
            "messages": [{"role": "user", "content": request.prompt}],
            "modalities": ["image", "text"],
            "stream": False,
        }
        size = self.size_fields(request)
        if size:  # OpenRouter's image_config; relays that do not know it ignore it
            payload["image_config"] = size
        url = self.url("chat/completions")
        return httpx.Request("POST", url, headers=bearer_headers(key), json=payload)

    def parse_response(self, response: httpx.Response) -> list[UpstreamImage]:
        content_type = response.headers.get("content-type", "").split(";")[0].strip().lower()
        if content_type.startswith("image/") and response.content:
            return [UpstreamImage(data=response.content, content_type=content_type)]
        body = json_body(response)
        failure = error_in_success(response, body, forbidden=errors.ContentPolicy)
        if failure is not None:
            raise failure
        if not isinstance(body, dict):
            raise errors.GenerationFailed("the vendor answered without JSON", vendor_status=response.status_code)
        images, texts, reasons = [], [], []
        for choice in [choice for choice in body.get("choices") or [] if isinstance(choice, dict)]:
            message = choice.get("message") if isinstance(choice.get("message"), dict) else {}
            images += _from_message(message)
            texts += [text_of(message.get("content")), text_of(message.get("refusal"))]
            reasons += [str(choice.get(field) or "").lower() for field in ("finish_reason", "native_finish_reason")]
        for candidate in body.get("candidates") or []:  # a native Gemini answer passed through
            images += [_inline(part) for part in (candidate.get("content") or {}).get("parts") or []]
            reasons.append(str(candidate.get("finishReason") or "").lower())
        images = [image for image in images if image is not None]
        if images:
            return images
        text = scrub(" ".join(t for t in texts if t).strip())[:300]
        if any(word in reason for reason in reasons for word in FILTER_REASONS):
            raise errors.ContentPolicy(text or "the vendor's safety filter blocked the image", vendor_status=200)
        if text and (REFUSAL.search(text.lower()) or any(w in text for w in REFUSAL_ZH) or looks_like_moderation(text)):
            raise errors.ContentPolicy(text, vendor_status=200)
        raise errors.GenerationFailed(text or "the vendor answered without an image", vendor_status=200)

    def classify_error(self, response: httpx.Response) -> errors.UpstreamError:
        return classify_openai_error(response, forbidden=errors.ContentPolicy)


def _from_message(message: dict[str, Any]) -> list[UpstreamImage | None]:
    found = [_from_url(_part_url(item)) for item in message.get("images") or []]
    content = message.get("content")
    if isinstance(content, list):
        found += [_from_url(_part_url(part)) for part in content if _is_image_part(part)]
        content = text_of(content) if not any(found) else None
    if isinstance(content, str) and not any(found):
        found += [_from_url(url) for url in MARKDOWN_IMAGE.findall(content)]
        if not any(found):
            found += [_from_url(match.group(0)) for match in DATA_URL.finditer(content)]
        if not any(found):
            found += [_from_url(match.group(0)) for match in HTTP_IMAGE.finditer(content)]
    return found


def _is_image_part(part: Any) -> bool:
    return isinstance(part, dict) and part.get("type") in ("image_url", "image", "output_image")


def _part_url(part: Any) -> str | None:
    if not isinstance(part, dict):
        return None
    value = part.get("image_url") or part.get("url")
    return value.get("url") if isinstance(value, dict) else value if isinstance(value, str) else None


def _from_url(url: str | None) -> UpstreamImage | None:
    if not url:
        return None
    data_url = DATA_URL.fullmatch(url.strip())
    if data_url:
        return UpstreamImage(b64=data_url.group(2), content_type=data_url.group(1).lower())
    return UpstreamImage(url=url) if url.startswith(("http://", "https://")) else None


def _inline(part: Any) -> UpstreamImage | None:
    inline = (part.get("inlineData") or part.get("inline_data")) if isinstance(part, dict) else None
    if not isinstance(inline, dict) or not inline.get("data"):
        return None
    return UpstreamImage(b64=inline["data"], content_type=inline.get("mimeType") or inline.get("mime_type"))
