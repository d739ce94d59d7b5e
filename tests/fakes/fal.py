"""Fake fal.ai queue API (vendor-protocols §9).

    fake = FalFake().start()
    base_url = fake.url                   # stands for https://queue.fal.run
    fake.keys = {"bad": "locked"}         # behaviour per key (Authorization: Key ...); others: default_behaviour
    fake.polls_to_finish = 2              # status polls before COMPLETED (202 IN_QUEUE, 202 IN_PROGRESS, 200)
    fake.poll_failures = 1                # the first status poll(s) answer 503 without a body of fal's
    fake.urls_base = "http://other"       # where status_url / response_url / cancel_url point (default: this fake)
    fake.cancelled                        # request ids whose cancel was PUT
    fake.keys_used()                      # the keys of every API call, in order

Routes: ``POST /{owner}/{app}[/{subpath}]`` submit; ``GET /{owner}/{app}/requests/{id}/status``;
``GET /{owner}/{app}/requests/{id}`` (the result: 400 while unfinished); ``PUT /{owner}/{app}/requests/{id}/cancel``;
files at ``/files/<name>``.

Behaviours: ``ok``; ``nsfw`` (every image flagged in ``has_nsfw_concepts``); ``one_nsfw`` (the first image
flagged); ``policy`` (the result is 422 ``content_policy_violation``); ``policy_at_submit`` (the submit is);
``invalid`` (the result is a 422 validation error); ``model_timeout`` (the result is 504 ``request_timeout``);
``never`` (``IN_PROGRESS`` forever); ``unauthorized`` (401); ``locked`` (403 exhausted balance);
``rate_limited`` (429); ``no_runner`` (503 ``runner_scheduling_failure`` at submit).

Input images: the model ids in ``IMAGE_INPUTS`` take their fields (``image_url`` a string, ``image_urls`` a
list, ``mask_url`` a string), each a base64 data URI of a PNG, JPEG or WebP (the fake fetches no URL). A field
the model does not take, a value of the wrong shape or not such an image is a 422 with a ``detail`` list,
given as the result of the job (the queue takes the submit; the model's input check fails the job). Accepted
images are in ``fake.received_images``, masks in ``fake.received_masks``.
"""

from __future__ import annotations

import uuid

from aiohttp import web

from tests.fakes.inputs import read_image
from tests.fakes.profile import KindProfile
from tests.fakes.server import bearer
from tests.fakes.siliconflow import VendorFake, _json

PRESETS = {
    "square_hd": (1024, 1024),
    "square": (512, 512),
    "portrait_4_3": (768, 1024),
    "portrait_16_9": (576, 1024),
    "landscape_4_3": (1024, 768),
    "landscape_16_9": (1024, 576),
}
POLICY = {
    "detail": [
        {
            "loc": ["body", "prompt"],
            "msg": "The content could not be processed because it contained material flagged by a content checker.",
            "type": "content_policy_violation",
            "input": "…",
            "categories": ["sexual"],
        }
    ]
}


# The image inputs of the model ids the fake knows: field -> whether it takes a list. Others take none.
IMAGE_INPUTS: dict[str, dict[str, bool]] = {
    "fal-ai/flux/dev/image-to-image": {"image_url": False},
    "fal-ai/flux-pro/kontext": {"image_url": False},
    "fal-ai/flux-pro/kontext/max/multi": {"image_urls": True},
    "fal-ai/flux-pro/v1/fill": {"image_url": False, "mask_url": False},
}
IMAGE_FIELDS = ("image_url", "image_urls", "mask_url")


def _invalid(field: str, message: str, kind: str) -> list[dict]:
    return [{"loc": ["body", field], "msg": message, "type": kind}]


class FalFake(VendorFake):
    def __init__(self, keys: dict[str, str] | None = None, **kwargs):
        super().__init__(keys, **kwargs)
        self.polls_to_finish = 2
        self.poll_failures = 0
        self.urls_base: str | None = None
        self.cancelled: list[str] = []
        self.jobs: dict[str, dict] = {}

    def keys_used(self) -> list[str]:
        return [bearer(r) for r in self.requests if not r.path.startswith("/files/")]

    def submits(self) -> list:
        return [r for r in self.requests if r.method == "POST"]

    def setup_routes(self, app: web.Application) -> None:
        super().setup_routes(app)
        app.router.add_get("/v1/account/billing", self.billing)
        app.router.add_get("/{owner}/{app}/requests/{id}/status", self.status)
        app.router.add_get("/{owner}/{app}/requests/{id}", self.result)
        app.router.add_put("/{owner}/{app}/requests/{id}/cancel", self.cancel)
        app.router.add_post("/{owner}/{app}", self.submit)
        app.router.add_post("/{owner}/{app}/{subpath:.+}", self.submit)

    def _auth(self, request: web.Request) -> web.Response | None:
        header = request.headers.get("Authorization", "")
        if not header.startswith("Key ") or not header[4:]:
            return _json(401, {"detail": "Invalid authentication credentials: Authorization header must be Key"})
        return None

    probe_refusals = ("unauthorized",)

    async def billing(self, request: web.Request) -> web.Response:
        """The Platform API's billing: 401 for an unknown key, 403 for a locked account or an inference-only
        key (``inference_only``)."""
        _, behaviour = self.behaviour_of(request)
        failure = self._auth(request) or self.probe_failure(request, self._failure("unauthorized"))
        if failure is None and behaviour in ("locked", "inference_only"):
            failure = self._failure("locked") if behaviour == "locked" else _json(403, {"detail": "Forbidden"})
        credits = {"current_balance": 12.5, "currency": "USD"}
        return failure or _json(200, {"username": "acme", "credits": credits})

    async def submit(self, request: web.Request) -> web.Response:
        key, behaviour = self.behaviour_of(request)
        await self.pause(behaviour)
        failure = self._auth(request) or self._failure(behaviour)
        if failure is not None:
            return failure
        try:
            payload = await request.json()
        except ValueError:
            return _json(422, {"detail": [{"loc": ["body"], "msg": "Invalid JSON", "type": "json_invalid"}]})
        request_id = str(uuid.uuid4())
        self.jobs[request_id] = {"key": key, "behaviour": behaviour, "polls": 0, "payload": payload, "done": False}
        model = "/".join(part for part in (request.match_info["owner"], request.match_info["app"]) if part)
        self.jobs[request_id]["invalid"] = self._input_images(
            model + "/" + request.match_info.get("subpath", ""), payload
        )
        base = f"{self.urls_base or self.url}/{request.match_info['owner']}/{request.match_info['app']}"
        base += f"/requests/{request_id}"
        return _json(
            200,
            {
                "request_id": request_id,
                "status": "IN_QUEUE",
                "queue_position": 0,
                "status_url": base + "/status",
                "response_url": base,
                "cancel_url": base + "/cancel",
            },
        )

    def _failure(self, behaviour: str) -> web.Response | None:
        if behaviour == "unauthorized":
            return _json(401, {"detail": "Invalid authentication credentials"})
        if behaviour == "locked":
            detail = "User is locked. Reason: Exhausted balance. Top up your balance at fal.ai/dashboard/billing."
            return _json(403, {"detail": detail})
        if behaviour == "rate_limited":
            return _json(429, {"detail": "Too many requests"}, headers={"Retry-After": str(self.retry_after)})
        if behaviour == "no_runner":
            body = {"detail": "No runner could be scheduled", "error_type": "runner_scheduling_failure"}
            return _json(503, body, headers={"X-Fal-Error-Type": "runner_scheduling_failure"})
        if behaviour == "policy_at_submit":
            return _json(422, POLICY)
        return None

    def _job(self, request: web.Request) -> tuple[dict | None, web.Response | None]:
        job = self.jobs.get(request.match_info["id"])
        if job is None:
            return None, _json(404, {"detail": "Request not found"})
        if bearer(request) != job["key"]:
            return None, _json(401, {"detail": "Invalid authentication credentials"})
        return job, None

    async def status(self, request: web.Request) -> web.Response:
        if self.poll_failures > 0:
            self.poll_failures -= 1
            return web.Response(status=503, text="upstream connect error", content_type="text/plain")
        job, failure = self._job(request)
        if failure is not None:
            return failure
        job["polls"] += 1
        if job["behaviour"] == "never" or job["polls"] < self.polls_to_finish:
            state = "IN_QUEUE" if job["polls"] == 1 else "IN_PROGRESS"
            return _json(202, {"status": state, "request_id": request.match_info["id"], "queue_position": 0})
        job["done"] = True
        return _json(200, {"status": "COMPLETED", "request_id": request.match_info["id"], "logs": None})

    async def result(self, request: web.Request) -> web.Response:
        job, failure = self._job(request)
        if failure is not None:
            return failure
        if not job["done"]:
            return _json(400, {"detail": "Request is still in progress"})
        behaviour = job["behaviour"]
        if job.get("invalid"):
            return _json(422, {"detail": job["invalid"]})
        if behaviour == "policy":
            return _json(422, POLICY)
        if behaviour == "invalid":
            problem = {"loc": ["body", "num_inference_steps"], "msg": "Input should be less than or equal to 12"}
            return _json(422, {"detail": [{**problem, "type": "less_than_equal"}]})
        if behaviour == "model_timeout":
            body = {"detail": "Request timed out", "error_type": "request_timeout"}
            return _json(504, body, headers={"X-Fal-Error-Type": "request_timeout"})
        payload = job["payload"]
        size = payload.get("image_size", "landscape_4_3")
        width, height = PRESETS[size] if isinstance(size, str) else (size["width"], size["height"])
        count = int(payload.get("num_images") or 1)
        images = [
            {"url": self.host(), "width": width, "height": height, "content_type": "image/png"} for _ in range(count)
        ]
        flags = [behaviour == "nsfw" or (behaviour == "one_nsfw" and index == 0) for index in range(count)]
        body = {"images": images, "timings": {"inference": 0.42}, "seed": 271828, "has_nsfw_concepts": flags}
        return _json(200, {**body, "prompt": payload.get("prompt")})

    def _input_images(self, model: str, payload: dict) -> list[dict]:
        takes = IMAGE_INPUTS.get(model.rstrip("/"), {})
        images: list[bytes] = []
        for field in (name for name in IMAGE_FIELDS if name in payload):
            if field not in takes:
                return _invalid(field, "Extra inputs are not permitted", "extra_forbidden")
            values = payload[field]
            if isinstance(values, list) is not takes[field]:
                return _invalid(
                    field,
                    "Input should be a valid list" if takes[field] else "Input should be a valid URL",
                    "type_error",
                )
            for value in values if takes[field] else [values]:
                data, reason = read_image(value, data_url=True)
                if reason:
                    return _invalid(field, f"The image {reason}", "image_load_error")
                (self.received_masks.append if field == "mask_url" else images.append)(data)
        self.received_images.append(images)
        return []

    async def cancel(self, request: web.Request) -> web.Response:
        job, failure = self._job(request)
        if failure is not None:
            return failure
        self.cancelled.append(request.match_info["id"])
        return _json(202, {"status": "CANCELLATION_REQUESTED"})


PROFILE = KindProfile(
    fake=FalFake,
    path="",
    model="fal-ai/flux/schnell",
    moderated="policy",
    bad_key="unauthorized",
)
