"""Image models behind ``/chat/completions``: https://openrouter.ai/docs/features/multimodal/image-generation

Request: ``POST {base}/chat/completions`` (or the base itself when it is that endpoint already), Bearer key,
JSON ``{model, messages: [{role: user, content: prompt}], modalities: ["image", "text"],
image_config: {aspect_ratio: "W:H"}, stream: false}``. Relays that do not know ``image_config`` ignore it.
Input images (https://openrouter.ai/docs/features/multimodal/images) go in the same user message as
``image_url`` parts with base64 data URLs, after the text part (OpenRouter recommends the text first); how many a
model takes is its own (the catalog's ``input_images``); there is no mask.

Answer, searched in this order (vendor-protocols §4.4): ``message.images[].image_url.url`` (OpenRouter, Vercel);
``content`` parts of type ``image_url``; in a string ``content`` Markdown ``![..](url)``, then a bare
``data:image/...;base64,`` URL, then a bare https URL ending in png/jpg/jpeg/webp; Gemini ``inlineData`` parts;
a raw ``image/*`` body. Data URLs become ``UpstreamImage(b64, content_type)``, http URLs ``UpstreamImage(url)``.
No image: a content-filter finish reason or a refusal -> ContentPolicy, else GenerationFailed.

Errors (https://openrouter.ai/docs/api/reference/errors-and-debugging), decided by ``vendors.errors.classify``.
This kind's difference: **an unexplained 403 is moderation** (OpenRouter flags input with a 403), so it is
ContentPolicy unless it names a bad key. The rest is the common order: 401/402 -> KeyRejected; 408/5xx ->
UpstreamUnavailable; 429 -> RateLimited (``insufficient_quota`` -> KeyRejected); Gemini 400
``API_KEY_INVALID`` and xAI 400 "Incorrect API key" -> KeyRejected; ``content_policy_violation`` ->
ContentPolicy. A 200 whose body holds an ``error`` is classified the same way, with ``error.code`` as the status.
"""

from __future__ import annotations

import re

import httpx

from core.redaction import admin_text
from vendors import errors
from vendors.adapters.base import ImageAdapter, ImageRequest, UpstreamImage, bearer_headers
from vendors.adapters.openai_chat import text_of
from vendors.adapters.probing import amount, model_count
from vendors.adapters.reading import Json, as_dict, as_list, as_str, json_body
from vendors.errors import ErrorTable, mentions_moderation

MARKDOWN_IMAGE = re.compile(r"!\[[^\]]*\]\(([^)\s]+)\)")
DATA_URL = re.compile(r"data:(image/[\w.+-]+);base64,([A-Za-z0-9+/=]+)")
HTTP_IMAGE = re.compile(r"https?://[^\s()<>\"'\]]+\.(?:png|jpe?g|webp)(?:\?[^\s()<>\"'\]]*)?(?![\w./-])", re.I)
FILTER_REASONS = ("content_filter", "safety", "prohibited", "blocklist", "spii")
REFUSAL = re.compile(r"\b(?:i can(?:no|'|’)?t|i(?:'|’)m (?:not able|unable)|i am (?:not able|unable)|i won(?:'|’)t)\b")
REFUSAL_ZH = ("抱歉", "无法")


class ChatImageAdapter(ImageAdapter):
    kind = "chat_image"
    label = "Chat-completions image model"
    default_size_format = "aspect_ratio"
    error_table = ErrorTable(forbidden=errors.ContentPolicy)  # OpenRouter's 403 is its moderation flag
    # Image parts beside the text; how many a model takes is its own (Gemini 2.5 Flash Image: 3), no mask.
    input_image_limit = 16
    carries_mask = False

    def build_request(self, request: ImageRequest, key: str) -> httpx.Request:
        payload = {
            "model": request.model,
            "messages": [{"role": "user", "content": _content(request)}],
            "modalities": ["image", "text"],
            "stream": False,
        }
        size = self.size_fields(request)
        if size:  # OpenRouter's image_config; relays that do not know it ignore it
            payload["image_config"] = size
        url = self.url("chat/completions")
        return httpx.Request("POST", url, headers=bearer_headers(key), json=payload)

    def probe_requests(self, key: str) -> list[httpx.Request]:
        # OpenRouter's /key describes the key itself (its /models answers anyone); a relay without /key
        # answers its models list to a key.
        root, headers = self.root("chat/completions"), bearer_headers(key)
        return [
            httpx.Request("GET", f"{root}/key", headers=headers),
            httpx.Request("GET", f"{root}/models", headers=headers),
        ]

    def probe_summary(self, body: Json) -> str:
        data = as_dict(body).get("data")
        if not isinstance(data, dict):
            return model_count(body)
        limit = "no credit limit" if data.get("limit") is None else amount("credit left", data.get("limit_remaining"))
        return ", ".join(word for word in (amount("used", data.get("usage")), limit) if word)

    def parse_response(self, response: httpx.Response) -> list[UpstreamImage]:
        content_type = response.headers.get("content-type", "").split(";")[0].strip().lower()
        if content_type.startswith("image/") and response.content:
            return [UpstreamImage(data=response.content, content_type=content_type)]
        body = json_body(response)
        failure = self.error_in_success(response, body)
        if failure is not None:
            raise failure
        if not isinstance(body, dict):
            raise errors.GenerationFailed("the vendor answered without JSON", vendor_status=response.status_code)
        images, texts, reasons = _read_answer(body)
        if images:
            return images
        raise _no_image(texts, reasons)


def _content(request: ImageRequest) -> str | list[dict[str, Json]]:
    """The prompt alone, or (with input images) a text part then one ``image_url`` data-URL part per image:
    OpenRouter asks for the text first."""
    if not request.images:
        return request.prompt
    parts: list[dict[str, Json]] = [{"type": "text", "text": request.prompt}]
    parts += [{"type": "image_url", "image_url": {"url": image.data_url()}} for image in request.images]
    return parts


def _read_answer(body: dict[str, Json]) -> tuple[list[UpstreamImage], list[str], list[str]]:
    """The images of an answer, and its texts and finish reasons (which tell why when there is none)."""
    found: list[UpstreamImage | None] = []
    texts: list[str] = []
    reasons: list[str] = []
    for choice in map(as_dict, as_list(body.get("choices"))):
        message = as_dict(choice.get("message"))
        found += _from_message(message)
        texts += [text_of(message.get("content")), text_of(message.get("refusal"))]
        reasons += [str(choice.get(field) or "").lower() for field in ("finish_reason", "native_finish_reason")]
    for candidate in map(as_dict, as_list(body.get("candidates"))):  # a native Gemini answer passed through
        found += [_inline(part) for part in as_list(as_dict(candidate.get("content")).get("parts"))]
        reasons.append(str(candidate.get("finishReason") or "").lower())
    return [image for image in found if image is not None], texts, reasons


def _no_image(texts: list[str], reasons: list[str]) -> errors.UpstreamError:
    """An answer without an image: a safety finish reason or a refusal is ContentPolicy, else GenerationFailed."""
    text = admin_text(" ".join(t for t in texts if t))
    if any(word in reason for reason in reasons for word in FILTER_REASONS):
        return errors.ContentPolicy.from_vendor(
            text or "the vendor's safety filter blocked the image", vendor_status=200
        )
    if text and (REFUSAL.search(text.lower()) or any(w in text for w in REFUSAL_ZH) or mentions_moderation(text)):
        return errors.ContentPolicy.from_vendor(text, vendor_status=200)
    return errors.GenerationFailed.from_vendor(text or "the vendor answered without an image", vendor_status=200)


def _from_message(message: dict[str, Json]) -> list[UpstreamImage | None]:
    found = [_from_url(_part_url(item)) for item in as_list(message.get("images"))]
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


def _is_image_part(part: Json) -> bool:
    return isinstance(part, dict) and part.get("type") in ("image_url", "image", "output_image")


def _part_url(part: Json) -> str | None:
    if not isinstance(part, dict):
        return None
    value = part.get("image_url") or part.get("url")
    return as_str(value.get("url")) if isinstance(value, dict) else as_str(value)


def _from_url(url: str | None) -> UpstreamImage | None:
    if not url:
        return None
    data_url = DATA_URL.fullmatch(url.strip())
    if data_url:
        return UpstreamImage(b64=data_url.group(2), content_type=data_url.group(1).lower())
    return UpstreamImage(url=url) if url.startswith(("http://", "https://")) else None


def _inline(part: Json) -> UpstreamImage | None:
    part = as_dict(part)
    inline = as_dict(part.get("inlineData") or part.get("inline_data"))
    data = as_str(inline.get("data"))
    content_type = as_str(inline.get("mimeType")) or as_str(inline.get("mime_type"))
    return UpstreamImage(b64=data, content_type=content_type) if data else None
