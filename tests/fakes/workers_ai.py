"""Fake Cloudflare Workers AI text-to-image (vendor-protocols §6).

    fake = WorkersAIFake().start()
    base_url = fake.url + "/client/v4"              # the key is then f"{fake.account_id}:{token}"
    base_url = fake.url + f"/client/v4/accounts/{fake.account_id}"   # ... or the plain token
    fake.keys = {"tok-bad": "invalid"}   # behaviour per API token; other tokens get fake.default_behaviour ("ok")
    fake.image = png_bytes()             # what SDXL-family models return, as raw bytes
    fake.envelope_image = jpeg_bytes()   # what flux models return, base64 in the JSON envelope
    fake.answer = "auto"                 # "auto" (by model, below), "raw" or "envelope"
    fake.latency = 0.5

``POST /client/v4/accounts/{account_id}/ai/run/{model}`` speaks the real wire format. No Bearer token is a 401
code 10000. An account other than
``fake.account_id`` is a 404 code 7003 (could not route); a model id not shaped ``@cf/<publisher>/<name>`` a 404
code 3042; a model not in ``MODELS`` a 400 code 5007. The body must be JSON (400 code 3003) with a ``prompt``;
``width``/``height``, when sent, are integers 256-2048 (400 code 5004). With ``answer = "auto"`` models whose id
contains "flux" answer the Cloudflare envelope ``{"result": {"image": base64 JPEG}, "success": true, "errors": [],
"messages": []}``; the others answer raw ``image/png`` bytes. Errors are the envelope with ``result: null``,
``success: false`` and ``errors: [{"code", "message"}]``.

Behaviours: ``ok``; ``slow`` (sleeps ``fake.slow_seconds`` more); ``empty`` (200, no image: an empty body, or an
envelope without ``result.image``); ``invalid`` (401 code 10000); ``forbidden`` (403 code 10000);
``terms`` (403 code 5016, model terms not accepted); ``daily_quota`` (429 code 3036, the day's free allocation
used); ``capacity`` (429 code 3040, out of capacity); ``bad_input`` (400 code 5004); ``timeout`` (408 code
3007); ``too_large`` (413 code 3006); ``server_error`` (500 code 3043); ``http200_failure`` (200 envelope with
``success: false``, code 3040).

Input images: the models in ``IMAGE_MODELS`` take ``image`` (an array of 0-255 integers, the file's bytes) or
``image_b64`` (the file base64-encoded), PNG, JPEG or WebP; the inpainting one also takes ``mask`` (an array
of 0-255 integers, an image file). A model that takes none, a value of the wrong shape or not an image is a
400 code 5004. Accepted images are in ``fake.received_images``, masks in ``fake.received_masks``.
"""

from __future__ import annotations

import base64
import json
import re

from aiohttp import web

from tests.fakes.inputs import image_format, read_image
from tests.fakes.profile import KindProfile
from tests.fakes.server import jpeg_bytes
from tests.fakes.siliconflow import VendorFake, _json, image_mime

MODELS = (
    "@cf/stabilityai/stable-diffusion-xl-base-1.0",
    "@cf/bytedance/stable-diffusion-xl-lightning",
    "@cf/lykon/dreamshaper-8-lcm",
    "@cf/black-forest-labs/flux-1-schnell",
    "@cf/runwayml/stable-diffusion-v1-5-img2img",
    "@cf/runwayml/stable-diffusion-v1-5-inpainting",
)
# The models that take an input image, and whether each takes a mask.
IMAGE_MODELS = {
    "@cf/runwayml/stable-diffusion-v1-5-img2img": False,
    "@cf/runwayml/stable-diffusion-v1-5-inpainting": True,
}
MODEL_ID = re.compile(r"@(?:cf|hf)/[\w.-]+/[\w.-]+")

ERRORS: dict[str, tuple[int, int, str]] = {
    "invalid": (401, 10000, "Authentication error"),
    "forbidden": (403, 10000, "Authentication error"),
    "terms": (403, 5016, "This model requires agreeing to its license terms: send the prompt 'agree' first."),
    "daily_quota": (
        429,
        3036,
        "Account limited: your daily free allocation of 10,000 neurons is used up. Upgrade to Workers Paid at "
        "https://dash.example/workers to continue.",
    ),
    "capacity": (429, 3040, "Capacity temporarily exceeded, please try again."),
    "bad_input": (400, 5004, "Type mismatch of '/num_steps', 'string' not in 'integer'"),
    "timeout": (408, 3007, "Request timeout"),
    "too_large": (413, 3006, "Request is too large"),
    "server_error": (500, 3043, "Internal server error"),
    "http200_failure": (200, 3040, "Capacity temporarily exceeded, please try again."),
}


def envelope_error(status: int, code: int, message: str) -> web.Response:
    return _json(
        status, {"result": None, "success": False, "errors": [{"code": code, "message": message}], "messages": []}
    )


class WorkersAIFake(VendorFake):
    def __init__(self, keys: dict[str, str] | None = None, *, latency: float = 0.0):
        super().__init__(keys, latency=latency)
        self.account_id = "0123456789abcdef0123456789abcdef"
        self.envelope_image = jpeg_bytes()
        self.answer = "auto"

    @property
    def api_paths(self) -> tuple[str, ...]:
        return tuple(f"/client/v4/accounts/{self.account_id}/ai/run/{model}" for model in MODELS)

    def setup_routes(self, app: web.Application) -> None:
        super().setup_routes(app)
        app.router.add_post("/client/v4/accounts/{account}/ai/run/{model:.+}", self.run)
        app.router.add_get("/client/v4/accounts/{account}/ai/models/search", self.search_models)

    async def search_models(self, request: web.Request) -> web.Response:
        if request.match_info["account"] != self.account_id:
            return envelope_error(
                404, 7003, f"Could not route to {request.path}, perhaps your object identifier is invalid?"
            )
        failure = self.probe_failure(request, envelope_error(401, 10000, "Authentication error"))
        models = [{"name": name, "task": {"name": "Text-to-Image"}} for name in MODELS][
            : int(request.query.get("per_page", 20))
        ]
        return failure or _json(200, {"result": models, "success": True, "errors": [], "messages": []})

    async def run(self, request: web.Request) -> web.Response:
        account, model = request.match_info["account"], request.match_info["model"]
        if account != self.account_id:
            message = f"Could not route to {request.path}, perhaps your object identifier is invalid?"
            return envelope_error(404, 7003, message)
        if not MODEL_ID.fullmatch(model):
            return envelope_error(404, 3042, f"Invalid model name: {model}")
        token, behaviour = self.behaviour_of(request)
        if not request.headers.get("Authorization", "").startswith("Bearer ") or not token:
            return envelope_error(401, 10000, "Authentication error")
        await self.pause(behaviour)
        if behaviour in ERRORS:
            return envelope_error(*ERRORS[behaviour])
        if model not in MODELS:
            return envelope_error(400, 5007, f"No such model {model} or task")
        try:
            payload = json.loads(await request.read())
        except ValueError:
            return envelope_error(400, 3003, "Bad input: the request body is not JSON")
        invalid = _invalid(payload) or self._input_images(model, payload)
        if invalid is not None:
            return envelope_error(400, 5004, invalid)
        envelope = self.answer == "envelope" or (self.answer == "auto" and "flux" in model)
        if envelope:
            result = {} if behaviour == "empty" else {"image": base64.b64encode(self.envelope_image).decode()}
            return _json(200, {"result": result, "success": True, "errors": [], "messages": []})
        image = b"" if behaviour == "empty" else self.image
        return web.Response(body=image, content_type=image_mime(self.image))

    def _input_images(self, model: str, payload: dict) -> str | None:
        sent = [field for field in ("image", "image_b64", "mask") if field in payload]
        if (sent and model not in IMAGE_MODELS) or ("mask" in sent and not IMAGE_MODELS.get(model)):
            return f"'/{sent[-1]}': this model takes no such property"
        if "image" in payload and "image_b64" in payload:
            return "send one of '/image' and '/image_b64'"
        image, problem = _from_array(payload["image"]) if "image" in payload else (None, None)
        if "image_b64" in payload:
            image, problem = read_image(payload["image_b64"], data_url=False, bare_base64=True)
        mask, mask_problem = _from_array(payload["mask"]) if "mask" in payload else (None, None)
        if problem or mask_problem:
            return f"'/{'mask' if mask_problem else sent[0]}' {problem or mask_problem}"
        if image is not None:
            self.received_images.append([image])
        if mask is not None:
            self.received_masks.append(mask)
        return None


def _from_array(value: object) -> tuple[bytes | None, str | None]:
    """An image sent as an array of 8-bit unsigned integers."""
    if not isinstance(value, list) or not all(isinstance(item, int) and 0 <= item <= 255 for item in value):
        return None, "must be an array of integers between 0 and 255"
    data = bytes(value)
    return (data, None) if image_format(data) else (None, "is not an image")


def _invalid(payload: object) -> str | None:
    if not isinstance(payload, dict) or not isinstance(payload.get("prompt"), str) or not payload["prompt"]:
        return "Required properties at '/' are 'prompt'"
    for field in ("width", "height"):
        value = payload.get(field, 1024)
        if not isinstance(value, int) or isinstance(value, bool) or not 256 <= value <= 2048:
            return f"'/{field}' must be an integer between 256 and 2048"
    return None


def account_key(fake: WorkersAIFake, token: str) -> str:
    """A key row for a base URL without the account: ``account_id:token``."""
    return f"{fake.account_id}:{token}"


PROFILE = KindProfile(
    fake=WorkersAIFake,
    path="/client/v4",
    model="@cf/stabilityai/stable-diffusion-xl-base-1.0",
    moderated=None,
    bad_key="invalid",
    key_format=account_key,
)
