"""Fake Stability AI v2beta Stable Image API (vendor-protocols §5).

    fake = StabilityFake().start()
    base_url = fake.url + "/v2beta/stable-image/generate/core"    # also .../ultra and .../sd3
    fake.keys = {"sk-bad": "invalid"}    # behaviour per key; other keys get fake.default_behaviour ("ok")
    fake.image = jpeg_bytes()            # the image returned (raw bytes or base64 in JSON)
    fake.seed = 1805264517               # the seed reported
    fake.latency = 0.5
    fake.forms                           # the form fields of each API call, parsed from the multipart body

``POST /v2beta/stable-image/generate/{core,ultra,sd3}`` speaks the real wire format: the body must be
``multipart/form-data`` (else 400), ``prompt`` is required, ``aspect_ratio`` must be one of Stability's nine,
``output_format`` png/jpeg/webp (sd3: png/jpeg), sd3's ``model`` one of ``SD3_MODELS``. ``Accept: image/*``
(or none) answers the raw image with ``finish-reason`` and ``seed`` headers; ``Accept: application/json``
answers ``{"image": base64, "finish_reason", "seed"}`` as ``application/json; type=image/png``; any other Accept
is a 400. Errors are ``{"id", "name", "errors": [...]}``.

Behaviours: ``ok``; ``slow`` (sleeps ``fake.slow_seconds`` more); ``filtered`` (200, finish reason
``CONTENT_FILTERED``, in either Accept mode); ``empty`` (200 without image bytes); ``invalid`` (401
unauthorized); ``no_credits`` (402); ``moderated`` (403 ``content_moderation``); ``bad_request`` (400);
``too_large`` (413); ``rejected`` (422 language); ``rate_limited`` (429 + ``Retry-After: fake.retry_after``);
``server_error`` (500).

Input images: ``POST /v2beta/stable-image/edit/inpaint`` takes an ``image`` file (required) and an optional
``mask`` file; ``generate/sd3`` takes an ``image`` with ``mode: image-to-image`` and ``strength`` (both
required with it), ``generate/ultra`` an ``image`` with ``strength``; ``generate/core`` takes none. Each image
is JPEG, PNG or WebP with sides of at least 64 px, 4,096 to 9,437,184 pixels and an aspect ratio within 1:2.5
and 2.5:1; anything else is a 400 ``bad_request`` naming the field. Accepted images are in
``fake.received_images``, masks in ``fake.received_masks``.
"""

from __future__ import annotations

import base64
import json
import uuid
from email import policy
from email.parser import BytesParser

from aiohttp import web

from tests.fakes.inputs import image_format, pixel_size
from tests.fakes.profile import KindProfile
from tests.fakes.siliconflow import VendorFake, _json, image_mime

SERVICES = ("core", "ultra", "sd3")
ASPECT_RATIOS = ("16:9", "1:1", "21:9", "2:3", "3:2", "4:5", "5:4", "9:16", "9:21")
SD3_MODELS = ("sd3.5-large", "sd3.5-large-turbo", "sd3.5-medium", "sd3.5-flash")

ERRORS: dict[str, tuple[int, str, str]] = {
    "invalid": (401, "unauthorized", "The API key you provided is not valid."),
    "no_credits": (
        402,
        "payment_required",
        "You lack sufficient credits to make this request. Buy more at https://platform.example/account/credits.",
    ),
    "moderated": (
        403,
        "content_moderation",
        "Your request was flagged by our content moderation system, as a result your request was denied and you "
        "were not charged.",
    ),
    "bad_request": (400, "bad_request", "style_preset: must be one of the listed presets"),
    "too_large": (413, "payload_too_large", "The request body must be smaller than 10 MiB."),
    "rejected": (422, "invalid_language", "English is the only supported language for this service."),
    "rate_limited": (429, "rate_limit_exceeded", "You have exceeded the rate limit of 150 requests in 10 seconds."),
    "server_error": (500, "internal_error", "An unexpected server error has occurred, please try again later."),
}


def stability_error(status: int, name: str, *messages: str, headers: dict[str, str] | None = None) -> web.Response:
    return _json(status, {"id": uuid.uuid4().hex, "name": name, "errors": list(messages)}, headers=headers)


def parse_form(content_type: str, body: bytes) -> dict | None:
    """The fields of a multipart/form-data body (None when the body is not multipart): text, or the bytes of
    a part sent as a file."""
    if not content_type.lower().startswith("multipart/form-data"):
        return None
    message = BytesParser(policy=policy.HTTP).parsebytes(f"Content-Type: {content_type}\r\n\r\n".encode() + body)
    if not message.is_multipart():
        return None
    form = {}
    for part in message.iter_parts():
        name = part.get_param("name", header="content-disposition")
        if name:
            payload = part.get_payload(decode=True)
            form[name] = payload if part.get_filename() else payload.decode()
    return form


class StabilityFake(VendorFake):
    edit_only_models = ("inpaint",)  # catalog models that need an input image (tests/catalog/test_facts.py)
    api_paths = tuple(f"/v2beta/stable-image/generate/{service}" for service in SERVICES)

    def __init__(self, keys: dict[str, str] | None = None, *, latency: float = 0.0):
        super().__init__(keys, latency=latency)
        self.seed = 1805264517
        self.forms: list[dict[str, str] | None] = []

    def setup_routes(self, app: web.Application) -> None:
        super().setup_routes(app)
        app.router.add_post("/v2beta/stable-image/generate/{service}", self.generate)
        app.router.add_post("/v2beta/stable-image/edit/{edit}", self.generate)
        app.router.add_get("/v1/user/balance", self.balance)

    async def balance(self, request: web.Request) -> web.Response:
        refused = stability_error(401, "unauthorized", "The API key you provided is not valid.")
        return self.probe_failure(request, refused) or _json(200, {"credits": 42.5})

    async def generate(self, request: web.Request) -> web.Response:
        service = request.match_info.get("service") or request.match_info["edit"]
        if service not in (*SERVICES, "inpaint"):
            return stability_error(404, "not_found", f"No such endpoint: generate/{service}")
        form = parse_form(request.headers.get("Content-Type", ""), await request.read())
        self.forms.append(form)
        if not request.headers.get("Authorization", "").startswith("Bearer "):
            return stability_error(401, "unauthorized", "authorization: missing or malformed")
        _, behaviour = self.behaviour_of(request)
        await self.pause(behaviour)
        if behaviour in ERRORS:
            status, name, text = ERRORS[behaviour]
            headers = {"Retry-After": str(self.retry_after)} if status == 429 else None
            return stability_error(status, name, text, headers=headers)
        invalid = self._invalid(service, form, request.headers.get("Accept", "image/*"))
        invalid = invalid or self._input_images(service, form)
        if invalid is not None:
            return stability_error(400, "bad_request", invalid)
        finish = "CONTENT_FILTERED" if behaviour == "filtered" else "SUCCESS"
        image = b"" if behaviour == "empty" else self.image
        if request.headers.get("Accept", "image/*").startswith("application/json"):
            body = {"finish_reason": finish, "seed": self.seed}
            if image:
                body["image"] = base64.b64encode(image).decode()
            content_type = f"application/json; type={image_mime(self.image)}"
            return web.Response(body=json.dumps(body).encode(), headers={"Content-Type": content_type})
        headers = {"finish-reason": finish, "seed": str(self.seed), "x-request-id": uuid.uuid4().hex}
        return web.Response(body=image, content_type=image_mime(self.image), headers=headers)

    def _invalid(self, service: str, form: dict[str, str] | None, accept: str) -> str | None:
        if form is None:
            return "content-type: must be multipart/form-data"
        if not accept.startswith(("image/", "application/json", "*/*")):
            return "accept: must be image/* or application/json"
        if not form.get("prompt", "").strip():
            return "prompt: cannot be empty"
        if form.get("aspect_ratio", "1:1") not in ASPECT_RATIOS:
            return f"aspect_ratio: must be one of {', '.join(ASPECT_RATIOS)}"
        formats = ("png", "jpeg") if service == "sd3" else ("png", "jpeg", "webp")
        if form.get("output_format", "png") not in formats:
            return f"output_format: must be one of {', '.join(formats)}"
        if service == "sd3" and form.get("model", "sd3.5-large") not in SD3_MODELS:
            return f"model: must be one of {', '.join(SD3_MODELS)}"
        return None

    def _input_images(self, service: str, form: dict) -> str | None:
        image, mask = form.get("image"), form.get("mask")
        if service == "inpaint" and image is None:
            return "image: required"
        if image is None:
            return "mode: image-to-image needs an image" if form.get("mode") == "image-to-image" else None
        if service == "core" or (service == "sd3" and form.get("mode") != "image-to-image"):
            return "image: only accepted in image-to-image mode" if service == "sd3" else "image: not accepted"
        if service != "inpaint" and not 0 <= float(form.get("strength", -1)) <= 1:
            return "strength: required with an image, between 0 and 1"
        for name, data in (("image", image), ("mask", mask)):
            problem = _image_problem(data) if data is not None else None
            if problem:
                return f"{name}: {problem}"
        self.received_images.append([image])
        if mask is not None:
            self.received_masks.append(mask)
        return None


def _image_problem(data: object) -> str | None:
    if not isinstance(data, bytes) or image_format(data) not in ("image/png", "image/jpeg", "image/webp"):
        return "must be a jpeg, png or webp file"
    width, height = pixel_size(data)
    if min(width, height) < 64:
        return "every side must be at least 64 pixels"
    if not 4096 <= width * height <= 9_437_184:
        return "the total pixel count must be between 4,096 and 9,437,184"
    if not 1 / 2.5 <= width / height <= 2.5:
        return "the aspect ratio must be between 1:2.5 and 2.5:1"
    return None


PROFILE = KindProfile(
    fake=StabilityFake,
    path="/v2beta/stable-image/generate/core",
    model="core",
    moderated="moderated",
    bad_key="invalid",
)
