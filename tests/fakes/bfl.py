"""Fake Black Forest Labs API (vendor-protocols §8).

    fake = BFLFake().start()
    base_url = fake.url
    fake.keys = {"bad": "no_credits"}     # behaviour per key (x-key header); others get fake.default_behaviour
    fake.pending_polls = 2                # polls answering "Pending" before the final status
    fake.lost_polls = 1                   # polls answering "Task not found" first (a job not yet visible)
    fake.poll_failures = 1                # the first poll(s) answer 502
    fake.polling_base = "http://other"    # where polling_url points (default: this fake)
    fake.url_ttl = 600 / fake.expire_files()   # result.sample URLs are served by the fake and expire
    fake.keys_used()                      # the x-key of every API call (submit and polls), in order

Routes: ``POST /v1/{endpoint}`` (``flux-pro-1.1`` checks width/height are multiples of 32 in 256-1440; the
ultra and kontext endpoints want ``aspect_ratio``, between 21:9 and 9:21), ``GET /v1/get_result?id=``, files at
``/files/<name>``.

Behaviours: ``ok``; ``request_moderated`` / ``content_moderated`` (the poll's final status); ``error`` (final
status ``Error``); ``never`` (``Pending`` forever); ``lost`` (``Task not found`` forever); ``no_credits``
(402); ``forbidden`` (403); ``rate_limited`` (429, concurrency cap); ``server_error`` (500).

Input images: each endpoint in ``IMAGE_FIELDS`` takes its fields as base64 (bare or a data URL), PNG, JPEG
or WebP, at most ``MAX_IMAGE_BYTES`` decoded; ``flux-pro-1.0-fill`` requires ``image``, takes a ``mask`` of
the image's own size and no width/height. A field the endpoint does not take, a value that is not such an
image, or a mask of another size is a 422 with FastAPI's ``detail`` list. Accepted images are in
``fake.received_images``, masks in ``fake.received_masks``.
"""

from __future__ import annotations

import uuid

from aiohttp import web

from tests.fakes.inputs import pixel_size, read_image
from tests.fakes.profile import KindProfile
from tests.fakes.siliconflow import VendorFake, _json

FORBIDDEN = {"detail": "Not authenticated - Invalid Authentication"}
RATIO_ENDPOINTS = ("flux-pro-1.1-ultra", "flux-kontext-pro", "flux-kontext-max")
_KONTEXT = ("input_image", "input_image_2", "input_image_3", "input_image_4")
IMAGE_FIELDS = {
    "flux-pro-1.1": ("image_prompt",),
    "flux-pro-1.1-ultra": ("image_prompt",),
    "flux-kontext-pro": _KONTEXT,
    "flux-kontext-max": _KONTEXT,
    "flux-2-pro": ("input_image", *(f"input_image_{number}" for number in range(2, 9))),
    "flux-pro-1.0-fill": ("image", "mask"),
}
ALL_IMAGE_FIELDS = {field for fields in IMAGE_FIELDS.values() for field in fields}
MAX_IMAGE_BYTES = 20 * 1024 * 1024  # the fake's ceiling for one decoded input image


class BFLFake(VendorFake):
    edit_only_models = ("flux-pro-1.0-fill",)  # catalog models that need an input image (tests/catalog/test_facts.py)

    def __init__(self, keys: dict[str, str] | None = None, **kwargs):
        super().__init__(keys, **kwargs)
        self.pending_polls = 2
        self.lost_polls = 0
        self.poll_failures = 0
        self.polling_base: str | None = None
        self.jobs: dict[str, dict] = {}

    def behaviour_of(self, request: web.Request) -> tuple[str, str]:
        key = request.headers.get("x-key", "")
        return key, self.keys.get(key, self.default_behaviour)

    def keys_used(self) -> list[str]:
        return [r.headers.get("x-key", "") for r in self.requests if r.path.startswith("/v1/")]

    def submits(self) -> list:
        return [r for r in self.requests if r.method == "POST"]

    def polls(self) -> list:
        return [r for r in self.requests if r.path == "/v1/get_result"]

    def setup_routes(self, app: web.Application) -> None:
        super().setup_routes(app)
        app.router.add_get("/v1/get_result", self.get_result)
        app.router.add_get("/v1/credits", self.credits)
        app.router.add_post("/v1/{endpoint}", self.submit)

    probe_refusals = ("invalid", "forbidden")

    async def credits(self, request: web.Request) -> web.Response:
        refused = _json(401 if self.keys.get(request.headers.get("x-key", "")) == "invalid" else 403, FORBIDDEN)
        return self.probe_failure(request, refused) or _json(200, {"credits": 99.5})

    async def submit(self, request: web.Request) -> web.Response:
        key, behaviour = self.behaviour_of(request)
        await self.pause(behaviour)
        if not key:
            return _json(403, {"detail": "Not authenticated - Invalid Authentication"})
        failure = self._failure(behaviour)
        if failure is not None:
            return failure
        try:
            payload = await request.json()
        except ValueError:
            return _json(400, {"detail": "Invalid JSON"})
        invalid = _validate(request.match_info["endpoint"], payload) or self._input_images(
            request.match_info["endpoint"], payload
        )
        if invalid:
            return _json(422, {"detail": invalid})
        job_id = str(uuid.uuid4())
        self.jobs[job_id] = {"key": key, "behaviour": behaviour, "polls": 0, "prompt": payload["prompt"]}
        polling_url = f"{self.polling_base or self.url}/v1/get_result?id={job_id}"
        return _json(200, {"id": job_id, "polling_url": polling_url, "cost": 4.0})

    def _input_images(self, endpoint: str, payload: dict) -> list[dict]:
        takes = IMAGE_FIELDS.get(endpoint, ())
        sent = [field for field in sorted(ALL_IMAGE_FIELDS) if field in payload]
        if endpoint == "flux-pro-1.0-fill" and "image" not in sent:
            return [_problem("image", "Field required", "missing")]
        images, mask = {}, None
        for field in sent:
            if field not in takes:
                return [_problem(field, "Extra inputs are not permitted", "extra_forbidden")]
            data, reason = read_image(payload[field], data_url=True, bare_base64=True, max_bytes=MAX_IMAGE_BYTES)
            if reason:
                return [_problem(field, f"Input image {reason}", "value_error")]
            if field == "mask":
                mask = data
            else:
                images[field] = data
        if mask is not None and pixel_size(mask) != pixel_size(images["image"]):
            return [_problem("mask", "The mask must have the dimensions of the image", "value_error")]
        self.received_images.append([images[field] for field in takes if field in images])
        if mask is not None:
            self.received_masks.append(mask)
        return []

    def _failure(self, behaviour: str) -> web.Response | None:
        if behaviour == "no_credits":
            return _json(402, {"detail": "Insufficient credits. Please add credits at https://dashboard.bfl.ai"})
        if behaviour == "forbidden":
            return _json(403, {"detail": "Not authenticated - Invalid Authentication"})
        if behaviour == "rate_limited":
            return _json(429, {"detail": "You have reached the maximum number of active tasks (24)."})
        if behaviour == "server_error":
            return web.Response(status=500, text="Internal Server Error")
        return None

    async def get_result(self, request: web.Request) -> web.Response:
        if self.poll_failures > 0:
            self.poll_failures -= 1
            return web.Response(status=502, text="<html>502 Bad Gateway</html>", content_type="text/html")
        job_id = request.query.get("id", "")
        job = self.jobs.get(job_id)
        if job is None or job["behaviour"] == "lost":
            return _json(200, {"id": job_id, "status": "Task not found"})
        if request.headers.get("x-key") != job["key"]:
            return _json(403, {"detail": "Not authenticated - Invalid Authentication"})
        job["polls"] += 1
        if job["polls"] <= self.lost_polls:
            return _json(200, {"id": job_id, "status": "Task not found"})
        behaviour = job["behaviour"]
        if behaviour == "never" or job["polls"] <= self.lost_polls + self.pending_polls:
            return _json(200, {"id": job_id, "status": "Pending", "result": None, "progress": 0.4, "details": None})
        if behaviour in ("request_moderated", "content_moderated"):
            status = "Request Moderated" if behaviour == "request_moderated" else "Content Moderated"
            details = {"Moderation Reasons": ["Derivative Works Filter"]}
            return _json(200, {"id": job_id, "status": status, "result": None, "details": details})
        if behaviour == "error":
            details = {"error": "Generation failed on the worker"}
            return _json(200, {"id": job_id, "status": "Error", "result": None, "details": details})
        sample = self.host() + "?se=2026-01-10T10%3A10%3A00Z&sig=abc123"
        result = {"sample": sample, "prompt": job["prompt"], "seed": 98231, "duration": 6.8}
        return _json(200, {"id": job_id, "status": "Ready", "result": result, "progress": None, "details": None})


def _problem(field: str, message: str, kind: str) -> dict:
    return {"loc": ["body", field], "msg": message, "type": kind}


def _validate(endpoint: str, payload: dict) -> list[dict]:
    problems = []
    if endpoint == "flux-pro-1.0-fill":
        extra = [field for field in ("width", "height", "aspect_ratio") if field in payload]
        return [_problem(field, "Extra inputs are not permitted", "extra_forbidden") for field in extra]
    if not payload.get("prompt"):
        problems.append({"loc": ["body", "prompt"], "msg": "Field required", "type": "missing"})
    if endpoint in RATIO_ENDPOINTS:
        if "width" in payload or "height" in payload:
            problems.append({"loc": ["body", "width"], "msg": "Extra inputs are not permitted", "type": "extra"})
        if not _ratio_within(str(payload.get("aspect_ratio", "16:9")), 9 / 21, 21 / 9):
            message = "Aspect ratio must be between 21:9 and 9:21"
            problems.append({"loc": ["body", "aspect_ratio"], "msg": message, "type": "value_error"})
        return problems
    for field in ("width", "height"):
        value = payload.get(field, 1024)
        if not isinstance(value, int) or value % 32 or not 256 <= value <= 1440:
            message = "Input should be a multiple of 32 between 256 and 1440"
            problems.append({"loc": ["body", field], "msg": message, "type": "value_error"})
    return problems


PROFILE = KindProfile(
    fake=BFLFake,
    path="",
    model="flux-pro-1.1",
    moderated="request_moderated",
    bad_key="forbidden",
)


def _ratio_within(ratio: str, low: float, high: float) -> bool:
    width, _, height = ratio.partition(":")
    try:
        return low - 1e-9 <= int(width) / int(height) <= high + 1e-9
    except (ValueError, ZeroDivisionError):
        return False
