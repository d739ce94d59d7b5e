"""Fake SiliconFlow image API (vendor-protocols §2), and ``VendorFake``, the knobs every fake vendor shares.

    fake = SiliconFlowFake().start()          # or: with SiliconFlowFake() as fake: ...
    base_url = fake.url + "/v1"
    fake.keys = {"sk-bad": "invalid"}         # behaviour per key; other keys get fake.default_behaviour ("ok")
    fake.latency = 0.5                        # seconds added before every API answer
    fake.image = png_bytes(32, 32)            # the image generated (served at /files/<name>.png)
    fake.url_ttl = 2.0                        # file URLs answer 404 after 2 s (None: never) ...
    fake.expire_files()                       # ... or at once
    fake.keys_used()                          # the Bearer keys of the API calls, in order
    fake.in_flight                            # calls waiting out their latency right now
    fake.stop()

Behaviours: ``ok``; ``slow`` (sleeps ``fake.slow_seconds`` more, then ok); ``empty`` (200 with no images);
``single`` (one image whatever batch_size says, as FLUX models do);
``invalid`` (401, body the JSON string "Invalid token"); ``forbidden`` (403 code 30003 "Model disabled.");
``no_balance`` (403 balance message); ``moderated`` (400 sensitive-content message); ``bad_model`` (400 code
20012); ``rate_limited`` (429 + ``Retry-After: fake.retry_after``); ``overloaded`` (503 code 50505);
``gateway_timeout`` (504 bare string); ``server_error`` (500 plain text).

Input images: ``image``, ``image2``, ``image3`` as base64 data URLs (PNG, JPEG or WebP), as many as
``IMAGE_MODELS`` says the model takes (others take none); the Qwen edit models refuse ``image_size``. A field
the model does not take, or a value that is not such a data URL, is a 400 code 20015. What was accepted is in
``fake.received_images`` (one list of bytes per call); every fake keeps its masks in ``fake.received_masks``.
"""

from __future__ import annotations

import asyncio
import itertools
import json
import random
import time

from aiohttp import web

from tests.fakes.inputs import read_image
from tests.fakes.profile import KindProfile
from tests.fakes.server import FakeServer, bearer, png_bytes


def image_mime(data: bytes) -> str:
    if data.startswith(b"\xff\xd8"):
        return "image/jpeg"
    if data[8:12] == b"WEBP":
        return "image/webp"
    return "image/png"


class VendorFake(FakeServer):
    """Per-key behaviour, latency, and image files served by the fake itself (with expiry)."""

    api_paths: tuple[str, ...] = ()

    def __init__(self, keys: dict[str, str] | None = None, *, latency: float = 0.0, image: bytes | None = None):
        super().__init__()
        self.keys: dict[str, str] = dict(keys or {})
        self.default_behaviour = "ok"
        self.latency = latency
        self.slow_seconds = 5.0
        self.retry_after = 7
        self.image = image if image is not None else png_bytes()
        self.url_ttl: float | None = None
        self._files: dict[str, tuple[bytes, float]] = {}
        self._expired: set[str] = set()
        self._names = itertools.count(1)
        self.in_flight = 0  # API calls being answered right now (a client that hung up ends its call)
        self.received_images: list[list[bytes]] = []  # the input images each accepted call carried
        self.received_masks: list[bytes] = []

    def behaviour_of(self, request: web.Request) -> tuple[str, str]:
        key = bearer(request)
        return key, self.keys.get(key, self.default_behaviour)

    async def pause(self, behaviour: str) -> None:
        delay = self.latency + (self.slow_seconds if behaviour == "slow" else 0.0)
        if delay:
            self.in_flight += 1
            try:
                await asyncio.sleep(delay)
            finally:
                self.in_flight -= 1

    def keys_used(self) -> list[str]:
        return [r.headers.get("Authorization", "").split(" ", 1)[-1] for r in self.requests if r.path in self.api_paths]

    # --- hosted files ------------------------------------------------------------------------
    def host(self, data: bytes | None = None) -> str:
        """Store an image (default ``self.image``) and return its absolute URL on this fake."""
        data = self.image if data is None else data
        extension = {"image/jpeg": "jpg", "image/webp": "webp"}.get(image_mime(data), "png")
        name = f"{next(self._names)}-{random.randrange(16**8):08x}.{extension}"
        self._files[name] = (data, time.monotonic())
        return f"{self.url}/files/{name}"

    def expire_files(self) -> None:
        self._expired.update(self._files)

    async def serve_file(self, request: web.Request) -> web.Response:
        name = request.match_info["name"]
        stored = self._files.get(name)
        expired = name in self._expired or (
            stored is not None and self.url_ttl is not None and time.monotonic() - stored[1] > self.url_ttl
        )
        if stored is None or expired:
            return web.Response(status=404, text="404 page not found")
        return web.Response(body=stored[0], content_type=image_mime(stored[0]))

    def setup_routes(self, app: web.Application) -> None:
        app.router.add_get("/files/{name}", self.serve_file)

    # --- the free key check (vendors.adapters.probing) ----------------------------------------
    probe_refusals: tuple[str, ...] = ("invalid",)  # behaviours whose key the probe endpoint refuses

    def probe_failure(self, request: web.Request, refused: web.Response) -> web.Response | None:
        """How the probe endpoint answers this request's key when not with success: ``refused`` (a 401) for a
        key the fake refuses, 429 for ``rate_limited``, 500 for ``server_error``; None: success."""
        _, behaviour = self.behaviour_of(request)
        if behaviour in self.probe_refusals:
            return refused
        if behaviour == "rate_limited":
            return _json(429, {"message": "Too many requests"}, headers={"Retry-After": str(self.retry_after)})
        if behaviour == "server_error":
            return web.Response(status=500, text="Internal Server Error")
        return None


def _json(status: int, body: object, headers: dict[str, str] | None = None) -> web.Response:
    return web.Response(status=status, text=json.dumps(body), content_type="application/json", headers=headers)


def models_list(*names: str) -> web.Response:
    """An OpenAI-style models list (``GET /v1/models``, the probe of the OpenAI-compatible kinds)."""
    data = [{"id": name, "object": "model", "created": 1700000000, "owned_by": "fake"} for name in names]
    return _json(200, {"object": "list", "data": data})


# Kolors' image_size enum on SiliconFlow's API reference; the fake refuses other sizes for it as the API does.
KOLORS_SIZES = ("1024x1024", "960x1280", "768x1024", "720x1440", "720x1280")
# The input images each image-to-image or edit model takes (image, image2, image3); other models take none.
IMAGE_FIELDS = ("image", "image2", "image3")
IMAGE_MODELS = {
    "kwai-kolors/kolors": 1,
    "qwen/qwen-image-edit": 1,
    "qwen/qwen-image-edit-2509": 3,
    "black-forest-labs/flux.1-kontext-dev": 1,
}


class SiliconFlowFake(VendorFake):
    api_paths = ("/v1/images/generations",)

    def setup_routes(self, app: web.Application) -> None:
        super().setup_routes(app)
        app.router.add_post("/v1/images/generations", self.generate)
        app.router.add_get("/v1/user/info", self.user_info)

    async def user_info(self, request: web.Request) -> web.Response:
        failure = self.probe_failure(request, _json(401, "Invalid token"))
        data = {"id": "u-1", "name": "fake", "balance": "0.88", "totalBalance": "12.88", "status": "normal"}
        return failure or _json(200, {"code": 20000, "message": "OK", "status": True, "data": data})

    async def generate(self, request: web.Request) -> web.Response:
        _, behaviour = self.behaviour_of(request)
        await self.pause(behaviour)
        failure = self._failure(behaviour)
        if failure is not None:
            return failure
        try:
            payload = await request.json()
        except ValueError:
            return _json(400, {"code": 20015, "message": "Invalid JSON body.", "data": None})
        if not payload.get("model") or not payload.get("prompt"):
            return _json(400, {"code": 20015, "message": "Parameter invalid: model and prompt are required."})
        size = payload.get("image_size")
        if str(payload["model"]).lower().endswith("kolors") and size is not None and size not in KOLORS_SIZES:
            return _json(400, {"code": 20015, "message": f"Parameter invalid: image_size {size} is not supported."})
        invalid = self._input_images(payload)
        if invalid:
            return _json(400, {"code": 20015, "message": f"Parameter invalid: {invalid}", "data": None})
        count = {"empty": 0, "single": 1}.get(behaviour, int(payload.get("batch_size") or 1))
        images = [{"url": self.host()} for _ in range(count)]
        return _json(200, {"images": images, "timings": {"inference": 0.42}, "seed": random.randrange(10**9)})

    def _input_images(self, payload: dict) -> str | None:
        model = str(payload["model"]).lower().removeprefix("pro/")
        sent = [field for field in IMAGE_FIELDS if field in payload]
        most = IMAGE_MODELS.get(model, 0)
        if len(sent) > most:
            return f"{sent[most]} is not supported by {payload['model']}"
        if model.startswith("qwen/qwen-image-edit") and "image_size" in payload:
            return f"image_size is not supported by {payload['model']}"
        received = []
        for field in sent:
            data, problem = read_image(payload[field], data_url=True)
            if problem:
                return f"{field} {problem}"
            received.append(data)
        self.received_images.append(received)
        return None

    def _failure(self, behaviour: str) -> web.Response | None:
        if behaviour == "invalid":
            return _json(401, "Invalid token")
        if behaviour == "forbidden":
            return _json(403, {"code": 30003, "message": "Model disabled.", "data": None})
        if behaviour == "no_balance":
            return _json(403, {"code": 30001, "message": "Sorry, your account balance is insufficient", "data": None})
        if behaviour == "moderated":
            return _json(400, {"code": 20044, "message": "The prompt contains sensitive content.", "data": None})
        if behaviour == "bad_model":
            return _json(400, {"code": 20012, "message": "Model does not exist. Please check it carefully."})
        if behaviour == "rate_limited":
            message = "Request was rejected due to rate limiting. Details:IPM limit reached."
            return _json(429, {"message": message, "data": "x"}, headers={"Retry-After": str(self.retry_after)})
        if behaviour == "overloaded":
            return _json(503, {"code": 50505, "message": "Model service overloaded. Please try again later."})
        if behaviour == "gateway_timeout":
            return _json(504, "Gateway Timeout")
        if behaviour == "server_error":
            return web.Response(status=500, text="Internal Server Error")
        return None


PROFILE = KindProfile(
    fake=SiliconFlowFake,
    path="/v1",
    model="black-forest-labs/FLUX.1-schnell",
    moderated="moderated",
    bad_key="invalid",
)
