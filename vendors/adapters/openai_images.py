"""OpenAI Images API and the vendors that copy it: https://platform.openai.com/docs/api-reference/images/create

Serves OpenAI (DALL-E 2/3, the GPT image family), Together, xAI, DeepInfra and one-api/new-api style relays.

Request: ``POST {base}/images/generations`` (or the base itself when it is that endpoint already), Bearer key,
JSON ``{model, prompt}`` plus:

- the size as the model's ``size_format`` says: ``size: "WxH"`` by default (OpenAI, DeepInfra, relays),
  ``width``/``height`` for Together, ``aspect_ratio`` for xAI, nothing for ``none``;
- ``n`` only when more than one image is asked for, and never more than ``max_batch``: 1 for DALL-E 3 (any
  upstream name containing "dall-e-3"), 10 otherwise;
- ``quality`` and ``style`` only when the client sent them (passed on as they are).

``response_format`` is **never** sent: GPT image models answer 400 ``unknown_parameter`` to it, and without it
DALL-E answers with a URL (valid 60 minutes) that the caller downloads at once.

With input images (vendor-protocols-style notes, from OpenAI's API reference): ``POST {base}/images/edits`` as
multipart/form-data: ``image`` (one file) or ``image[]`` (several: GPT image models take up to 16 PNG, WebP or
JPEG files, each under 50 MB in today's reference, 25 MB in earlier ones; DALL-E 2 takes one square PNG under 4 MB),
an optional ``mask`` (a PNG, under 4 MB, the same size as the first image: its transparent pixels are where to
edit), ``prompt``, ``model``, ``n``, ``size``, ``quality``. No ``style``, no ``response_format`` (as above).
What each model takes is the catalog's ``input_images`` / ``mask``; the vendor refuses the rest with a 400.

Answer: ``{"data": [{"url": ...} | {"b64_json": ...}, ...]}``; every item is checked for both fields (relays
return URLs even for GPT image models, some as data URLs; when an item has both, the inline base64 wins).
``revised_prompt`` is kept when present. A GPT image answer's ``output_format`` names the base64's type. A 200
that carries an ``error`` (some relays) is classified like an error answer; a 200 with no image is
GenerationFailed.

Errors are OpenAI's ``{"error": {"message", "type", "param", "code"}}``, decided by ``vendors.errors.classify``
in the common order: 401 ``invalid_api_key`` -> KeyRejected; 429 ``insufficient_quota``
(billing) -> KeyRejected but 429 ``rate_limit_exceeded`` -> RateLimited (Retry-After or OpenAI's
``x-ratelimit-reset-*``); 400 ``billing_hard_limit_reached`` -> KeyRejected; 400 ``content_policy_violation``
(DALL-E) / ``moderation_blocked`` (GPT image) -> ContentPolicy; xAI's 400 with ``error: "Incorrect API key
provided…"`` -> KeyRejected; 403 (unverified organisation, permission) -> KeyRejected, but 403
``unsupported_country_region_territory`` (the country the gateway calls from) -> BadRequest, no key disabled
(``openai_chat.OPENAI_ERRORS``); 408/5xx -> UpstreamUnavailable; other 4xx (``unknown_parameter``,
``invalid_value``) -> BadRequest.
"""

from __future__ import annotations

import httpx

from vendors import errors
from vendors.adapters.base import ImageAdapter, ImageRequest, InputImage, UpstreamImage, bearer_headers
from vendors.adapters.openai_chat import OPENAI_ERRORS
from vendors.adapters.probing import model_count
from vendors.adapters.reading import Json, clean_message, error_codes, json_body
from vendors.errors import ErrorFacts

OUTPUT_TYPES = {"png": "image/png", "jpeg": "image/jpeg", "jpg": "image/jpeg", "webp": "image/webp"}


class OpenAIImagesAdapter(ImageAdapter):
    kind = "openai_images"
    label = "OpenAI Images API and compatible"
    default_size_format = "size"
    size_field = "size"
    batch_limit = 10  # n 1-10 (dall-e-2, GPT image, xAI); DALL-E 3 takes n=1 only, see max_batch
    error_table = OPENAI_ERRORS
    input_image_limit = 16  # /images/edits: GPT image models take up to 16 images, DALL-E 2 one (the catalog's)
    carries_mask = True

    def max_batch(self, request: ImageRequest) -> int:
        return 1 if is_dall_e_3(request.model) else self.batch_limit

    def build_request(self, request: ImageRequest, key: str) -> httpx.Request:
        if request.images:
            return self.edit_request(request, key)
        payload: dict[str, Json] = {"model": request.model, "prompt": request.prompt, **self.size_fields(request)}
        n = min(request.n, self.max_batch(request))
        if n > 1:
            payload["n"] = n
        if request.quality:
            payload["quality"] = request.quality
        if request.style:
            payload["style"] = request.style
        url = self.url("images/generations")
        return httpx.Request("POST", url, headers=bearer_headers(key), json=payload)

    def edit_request(self, request: ImageRequest, key: str) -> httpx.Request:
        """``POST {base}/images/edits``, multipart: the image as ``image`` (several as ``image[]``), the mask,
        and the text fields (``style`` is not one of them)."""
        fields: dict[str, str] = {"model": request.model, "prompt": request.prompt}
        fields |= {name: str(value) for name, value in self.size_fields(request).items()}
        n = min(request.n, self.max_batch(request))
        if n > 1:
            fields["n"] = str(n)
        if request.quality:
            fields["quality"] = request.quality
        name = "image" if len(request.images) == 1 else "image[]"
        files = [(name, _upload(image, f"image-{i}")) for i, image in enumerate(request.images, 1)]
        if request.mask is not None:
            files.append(("mask", _upload(request.mask, "mask")))
        headers = {"Authorization": f"Bearer {key}", "Accept": "application/json"}  # httpx sets the multipart type
        url = self.root("images/generations", "images/edits") + "/images/edits"
        return httpx.Request("POST", url, headers=headers, data=fields, files=files)

    def probe_requests(self, key: str) -> list[httpx.Request]:
        # The models list: OpenAI, Together, xAI, DeepInfra and the relays all answer it for a key.
        return [httpx.Request("GET", f"{self.root('images/generations')}/models", headers=bearer_headers(key))]

    def probe_summary(self, body: Json) -> str:
        return model_count(body)

    def parse_response(self, response: httpx.Response) -> list[UpstreamImage]:
        body = json_body(response)
        failure = self.error_in_success(response, body)
        if failure is not None:
            raise failure
        if not isinstance(body, dict):
            raise errors.GenerationFailed("the vendor answered without JSON", vendor_status=response.status_code)
        content_type = OUTPUT_TYPES.get(str(body.get("output_format") or "").lower())
        items = body.get("data")
        found = [_image(item, content_type) for item in items] if isinstance(items, list) else []
        images = [image for image in found if image is not None]
        if images:
            return images
        message = "the vendor answered without an image"
        if isinstance(body.get("message"), str) and body["message"]:
            message = clean_message(response, body)
        raise errors.classify(ErrorFacts(response.status_code, message, error_codes(body)), self.error_table)


def _upload(image: InputImage, stem: str) -> tuple[str, bytes, str]:
    extension = image.content_type.split("/")[-1].replace("jpeg", "jpg")
    return (f"{stem}.{extension}", image.data, image.content_type)


def is_dall_e_3(model: str) -> bool:
    """DALL-E 3 under its own name or a relay's spelling (dall-e-3, dalle-3, openai/dall-e-3-hd, ...)."""
    squeezed = model.lower().replace("-", "").replace("_", "")
    return "dalle3" in squeezed


def _image(item: Json, content_type: str | None) -> UpstreamImage | None:
    if not isinstance(item, dict):
        return None
    found_revised, found_seed = item.get("revised_prompt"), item.get("seed")
    revised = found_revised if isinstance(found_revised, str) else None
    seed = found_seed if isinstance(found_seed, int) else None
    b64, url = item.get("b64_json"), item.get("url")
    if isinstance(b64, str) and b64:
        return UpstreamImage(b64=b64, content_type=content_type, revised_prompt=revised or None, seed=seed)
    if isinstance(url, str) and url.startswith("data:"):  # a relay's data URL
        return UpstreamImage(b64=url, revised_prompt=revised or None, seed=seed)
    if isinstance(url, str) and url:
        return UpstreamImage(url=url, revised_prompt=revised or None, seed=seed)
    return None
