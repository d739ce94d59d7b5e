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

Input images: an ``image`` file part. On ``sd3`` with ``mode: image-to-image`` and ``strength``, on ``ultra``
with ``strength`` (``strength`` is required with an image; we send ``inputs.IMAGE_STRENGTH``); neither then
takes ``aspect_ratio`` (the input image sets the shape). ``core`` takes no image: refused before any call. A
mask, or a model named like "inpaint", goes to ``/v2beta/stable-image/edit/inpaint`` instead: ``image`` plus
an optional ``mask`` file (a black-and-white PNG, white = change, made from OpenAI's transparent = change; the
vendor resizes a mask of another size). Images are JPEG, PNG or WebP, each side at least 64 px, 4,096 to
9,437,184 pixels, aspect ratio within 1:2.5 and 2.5:1. ``negative_prompt`` is passed on when given.

Answer, by its Content-Type: ``image/*`` -> the raw bytes, ``finish-reason`` and ``seed`` in headers;
``application/json`` -> ``{"image": base64, "finish_reason", "seed"}`` (the image type in ``; type=image/png``).
A 200 whose finish reason is ``CONTENT_FILTERED`` holds a blurred image: it is ContentPolicy, never delivered.

Errors ``{"id", "name", "errors": [...]}``, decided by ``vendors.errors.classify``; ``name`` is read as a code.
Stability's differences: ``name: content_moderation`` -> ContentPolicy at any status; **an unexplained 403 is
moderation here** (the only 403 Stability documents) -> ContentPolicy, but one whose body is not Stability's
JSON (a proxy's page) -> UpstreamUnavailable; a 429 cools the key for at least 60 s (Stability locks a key out
for 60 s after the limit). The rest is the common order: 401/402 (credits) -> KeyRejected, a 403 naming a bad
key -> KeyRejected, 408/5xx -> UpstreamUnavailable, 400/404/413/422 -> BadRequest.
"""

from __future__ import annotations

import dataclasses
import re

import httpx

from vendors import errors
from vendors.adapters.base import ImageAdapter, ImageRequest, UpstreamImage
from vendors.adapters.inputs import IMAGE_STRENGTH, black_and_white_mask, refuse_uncarried
from vendors.adapters.probing import amount
from vendors.adapters.reading import Json, as_dict, clean_message, json_body
from vendors.errors import ErrorFacts, ErrorTable

SERVICE_URL = re.compile(r"/(?:generate|edit)/[\w.-]+$")
INPAINT = "edit/inpaint"
FILTERED = "CONTENT_FILTERED"


class StabilityAdapter(ImageAdapter):
    kind = "stability"
    label = "Stability AI Stable Image (v2beta)"
    default_size_format = "aspect_ratio"
    batch_limit = 1
    input_image_limit = 1
    carries_mask = True
    error_table = ErrorTable(
        codes={"content_moderation": errors.ContentPolicy},
        forbidden=errors.ContentPolicy,  # the only 403 Stability documents is its moderation
        foreign_forbidden=errors.UpstreamUnavailable,  # a 403 page that is not Stability's: a proxy
        min_rate_limit=60.0,  # Stability locks a key out for 60 s once it passes the rate limit
    )

    def endpoint(self, request: ImageRequest) -> str:
        base = self.vendor.base_url.rstrip("/")
        editing = request.mask is not None or "inpaint" in request.model.lower()
        service = INPAINT if editing else f"generate/{service_for(request.model)}"
        if SERVICE_URL.search(base):
            return SERVICE_URL.sub("/" + service, base) if editing else base
        for stem, rest in (
            ("/stable-image/generate", f"/stable-image/{service}"),
            ("/stable-image", f"/stable-image/{service}"),
            ("/v2beta", f"/v2beta/stable-image/{service}"),
        ):
            if base.endswith(stem):
                return base.removesuffix(stem) + rest
        return f"{base}/v2beta/stable-image/{service}"

    def build_request(self, request: ImageRequest, key: str) -> httpx.Request:
        url = self.endpoint(request)
        refuse_uncarried(request, most=0 if url.endswith("/core") else 1, mask=True, model=request.model)
        fields: dict[str, Json] = {"prompt": request.prompt, "output_format": "png"}
        if not request.images:  # with an input image, the image sets the shape
            fields.update(self.size_fields(request))
        elif not url.endswith(INPAINT):
            fields["strength"] = IMAGE_STRENGTH
            if url.endswith("/sd3"):
                fields["mode"] = "image-to-image"
        if url.endswith("/sd3") and request.model:
            fields["model"] = request.model
        if request.negative_prompt:
            fields["negative_prompt"] = request.negative_prompt
        # (None, value) parts are plain form fields; passing them as files keeps the body multipart.
        files: dict[str, tuple[str | None, str | bytes, str] | tuple[None, str]]
        files = {name: (None, str(value)) for name, value in fields.items()}
        if request.images:
            image = request.images[0]
            files["image"] = ("image." + image.content_type.split("/")[1], image.data, image.content_type)
        if request.mask is not None:
            files["mask"] = ("mask.png", black_and_white_mask(request.mask), "image/png")
        headers = {"Authorization": f"Bearer {key}", "Accept": "image/*"}
        return httpx.Request("POST", url, headers=headers, files=files)

    def probe_requests(self, key: str) -> list[httpx.Request]:
        # The v1 account balance: what the key has left, no generation.
        root = self.vendor.base_url.rstrip("/").split("/v2beta")[0].removesuffix("/v1")
        headers = {"Authorization": f"Bearer {key}", "Accept": "application/json"}
        return [httpx.Request("GET", f"{root}/v1/user/balance", headers=headers)]

    def probe_summary(self, body: Json) -> str:
        return amount("credits", as_dict(body).get("credits"))

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

    def error_facts(self, response: httpx.Response, body: Json) -> ErrorFacts:
        facts = super().error_facts(response, body)
        if not isinstance(body, dict) or not ("name" in body or "errors" in body):
            return dataclasses.replace(facts, foreign=True)
        name = body.get("name")
        codes = facts.codes | {name.lower()} if isinstance(name, str) else facts.codes
        return dataclasses.replace(facts, message=_message(response, body), codes=codes)


def service_for(model: str) -> str:
    """The v2beta generate service a model name belongs to, for bases that do not name one."""
    name = model.lower()
    if "sd3" in name:
        return "sd3"
    return "ultra" if "ultra" in name else "core"


def _check_finish(reason: Json) -> None:
    reason = str(reason or "").strip().upper()
    if reason == FILTERED:
        raise errors.ContentPolicy(
            "the vendor's safety filter obscured the generated image (finish reason CONTENT_FILTERED)",
            vendor_status=200,
        )
    if reason == "ERROR":
        raise errors.GenerationFailed("the vendor reported an error while generating", vendor_status=200)


def _message(response: httpx.Response, body: dict[str, Json]) -> str:
    """Stability's ``errors`` list joined (its ``name`` when the list is empty), scrubbed."""
    found, name = body.get("errors"), body.get("name")
    texts = [text for text in found if isinstance(text, str) and text.strip()] if isinstance(found, list) else []
    text = "; ".join(texts) or (name if isinstance(name, str) else "")
    return clean_message(response, {"message": text} if text else body)


def _content_type(response: httpx.Response) -> tuple[str, dict[str, str]]:
    media_type, *rest = response.headers.get("content-type", "").split(";")
    params = {}
    for part in rest:
        name, _, value = part.partition("=")
        params[name.strip().lower()] = value.strip().strip('"').lower()
    return media_type.strip().lower(), params


def _int(value: Json) -> int | None:
    if isinstance(value, int) and not isinstance(value, bool):
        return value
    try:
        return int(str(value).strip())
    except (TypeError, ValueError):
        return None
