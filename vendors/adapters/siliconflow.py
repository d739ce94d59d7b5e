"""SiliconFlow image generation: https://docs.siliconflow.cn/api-reference/images/images-generations

Request: ``POST {base}/images/generations`` (or the base itself when it is that endpoint already), Bearer key,
JSON ``{model, prompt, image_size: "WxH"}``, plus ``batch_size: n`` when more than one image is asked for.

Input images (image-to-image and edit models: Kolors, Qwen-Image-Edit, FLUX.1 Kontext): ``image``, then
``image2`` and ``image3`` (Qwen-Image-Edit-2509 takes up to three), each a base64 data URL. No mask field.
``negative_prompt`` is passed on when the request has one.

Answer: ``{"images": [{"url": ...}], "timings": {...}, "seed": 123}``; the URLs live one hour, so the caller
downloads them at once. ``data[].url`` / ``b64_json`` are accepted too, for relays that answer OpenAI-style.

Errors (https://docs.siliconflow.com/en/faqs/error-code): bodies are a JSON object, a bare JSON string
(``"Invalid token"``) or plain text, decided by ``vendors.errors.classify``. SiliconFlow's differences: codes
30003 ("Model disabled.": permission, real-name check) and 30014 ("Token is invalid.") mean a 401 whatever
the HTTP status says; an unexplained 403 (a bare ``"Forbidden"``) is the key's permission (the default).
"""

from __future__ import annotations

import httpx

from vendors import errors
from vendors.adapters.base import ImageAdapter, ImageRequest, UpstreamImage, bearer_headers
from vendors.adapters.inputs import refuse_uncarried
from vendors.adapters.probing import amount
from vendors.adapters.reading import Json, as_dict, as_int, as_list, as_str, clean_message, json_body
from vendors.errors import ErrorFacts, ErrorTable

IMAGE_FIELDS = ("image", "image2", "image3")


class SiliconFlowAdapter(ImageAdapter):
    kind = "siliconflow"
    label = "SiliconFlow images (JSON image URLs)"
    size_field = "image_size"
    batch_limit = 4  # batch_size 1-4
    input_image_limit = 3  # image, image2, image3
    error_table = ErrorTable(codes={"30003": 401, "30014": 401})  # "Model disabled.", "Token is invalid."

    def build_request(self, request: ImageRequest, key: str) -> httpx.Request:
        payload = {"model": request.model, "prompt": request.prompt, **self.size_fields(request)}
        if request.n > 1:  # documented for Kolors only; other models need not know the field
            payload["batch_size"] = request.n
        refuse_uncarried(request, most=self.input_image_limit, mask=self.carries_mask, model=request.model)
        for field, image in zip(IMAGE_FIELDS, request.images, strict=False):
            payload[field] = image.data_url()
        if request.negative_prompt:
            payload["negative_prompt"] = request.negative_prompt
        url = self.url("images/generations")
        return httpx.Request("POST", url, headers=bearer_headers(key), json=payload)

    def probe_requests(self, key: str) -> list[httpx.Request]:
        # The account endpoint: its balance, no generation.
        url = f"{self.root('images/generations')}/user/info"
        return [httpx.Request("GET", url, headers=bearer_headers(key))]

    def probe_summary(self, body: Json) -> str:
        data = as_dict(as_dict(body).get("data"))
        words = [amount("balance", data.get("totalBalance", data.get("balance"))), as_str(data.get("status")) or ""]
        return ", ".join(word for word in words if word)

    def parse_response(self, response: httpx.Response) -> list[UpstreamImage]:
        body = json_body(response)
        if not isinstance(body, dict):
            raise errors.GenerationFailed("the vendor answered without JSON", vendor_status=response.status_code)
        seed = as_int(body.get("seed"))
        images = [image for item in _items(body) if (image := _image(item, seed)) is not None]
        if images:
            return images
        message = clean_message(response, body) if _has_message(body) else "the vendor answered without an image"
        raise errors.classify(ErrorFacts(response.status_code, message), self.error_table)


def _items(body: dict[str, Json]) -> list[Json]:
    return as_list(body.get("images")) + as_list(body.get("data"))


def _image(item: Json, seed: int | None) -> UpstreamImage | None:
    if isinstance(item, str) and item.startswith(("http://", "https://")):
        return UpstreamImage(url=item, seed=seed)
    if not isinstance(item, dict):
        return None
    item_seed = as_int(item.get("seed"))
    item_seed = seed if item_seed is None else item_seed
    url = as_str(item.get("url"))
    if url:
        return UpstreamImage(url=url, seed=item_seed)
    b64 = next((found for field in ("b64_json", "b64", "base64") if (found := as_str(item.get(field)))), None)
    return UpstreamImage(b64=b64, seed=item_seed) if b64 else None


def _has_message(body: dict[str, Json]) -> bool:
    return any(as_str(body.get(field)) for field in ("message", "error", "detail"))
