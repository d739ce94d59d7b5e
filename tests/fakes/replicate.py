"""Fake Replicate predictions API (vendor-protocols §7).

    fake = ReplicateFake().start()
    base_url = fake.url + "/v1"
    fake.keys = {"r8_bad": "invalid"}     # behaviour per key; other keys get fake.default_behaviour ("ok")
    fake.polls_to_finish = 2              # GETs of a prediction before it ends (starting -> processing -> end)
    fake.answer_within_wait = True        # with "Prefer: wait" the create answers with the finished prediction
    fake.output_kind = "string"           # "list" (flux-schnell style, default) or "string" (flux-1.1-pro style)
    fake.early_output = True              # fill "output" while the prediction is still "processing"
    fake.poll_failures = 2                # the first 2 GETs answer 503
    fake.urls_base = "http://elsewhere"   # where urls.get / urls.cancel point (default: this fake)
    fake.cancelled                        # ids whose cancel was posted
    fake.keys_used()                      # the Bearer keys of every API call (create, get, cancel), in order

Routes: ``POST /v1/models/{owner}/{name}/predictions``, ``POST /v1/predictions`` (``version`` must be 64 hex),
``POST /v1/deployments/{owner}/{name}/predictions``, ``GET /v1/predictions/{id}``,
``POST /v1/predictions/{id}/cancel``, and hosted files at ``/files/<name>``.

Behaviours: ``ok``; ``nsfw`` (ends ``failed`` with the safety checker's text); ``failed`` (ends ``failed`` with
an out-of-memory error); ``canceled`` (ends ``canceled``); ``empty`` (``succeeded`` with no output); ``never``
(stays ``processing``); ``invalid`` (401); ``no_credit`` (402); ``invalid_input`` (422 with invalid_fields);
``throttled`` (429 "Expected available in N seconds", N = ``fake.retry_after``); ``server_error`` (503 problem).
Model owner ``missing`` answers 404. The FLUX models in ``ASPECT_RATIOS`` refuse (422, as Replicate's schema
does) an ``aspect_ratio`` outside their enum.

Input images: each model in ``IMAGE_INPUTS`` takes its own fields (a URI string, or a list of them); an image
field the model does not have, a value of the wrong shape, a value that is not a URI, a data URL over 1 MB
(Replicate recommends data URLs only below that; the fake holds to it so the upload path is used) or a file
that is not an image is a 422 with ``invalid_fields``. ``POST /v1/files`` (multipart ``content``) stores a file
and answers its ``urls.get``, which the fake resolves when a model input names it. Accepted images are in
``fake.received_images`` (one list per create, in field order), masks in ``fake.received_masks``.
"""

from __future__ import annotations

import asyncio
import itertools
import re
import time

from aiohttp import web

from tests.fakes.profile import KindProfile
from tests.fakes.replicate_inputs import ImageInputs, problem
from tests.fakes.server import bearer
from tests.fakes.siliconflow import VendorFake, _json

VERSION = re.compile(r"^[0-9a-f]{64}$")
NSFW = "NSFW content detected. Try running it again, or try a different prompt."


class ReplicateFake(ImageInputs, VendorFake):
    def __init__(self, keys: dict[str, str] | None = None, **kwargs):
        super().__init__(keys, **kwargs)
        self.polls_to_finish = 2
        self.answer_within_wait = False
        self.output_kind = "list"
        self.early_output = False
        self.poll_failures = 0
        self.urls_base: str | None = None
        self.cancelled: list[str] = []
        self.predictions: dict[str, dict] = {}
        self._ids = itertools.count(1)
        self.files = {}

    def keys_used(self) -> list[str]:
        return [bearer(r) for r in self.requests if r.path.startswith("/v1/")]

    def creates(self) -> list:
        return [r for r in self.requests if r.method == "POST" and r.path.endswith("/predictions")]

    def setup_routes(self, app: web.Application) -> None:
        super().setup_routes(app)
        app.router.add_post("/v1/models/{owner}/{name}/predictions", self.create)
        app.router.add_post("/v1/deployments/{owner}/{name}/predictions", self.create)
        app.router.add_post("/v1/predictions", self.create)
        app.router.add_get("/v1/predictions/{id}", self.get)
        app.router.add_post("/v1/predictions/{id}/cancel", self.cancel)
        app.router.add_get("/v1/account", self.account)
        app.router.add_post("/v1/files", self.upload)

    async def account(self, request: web.Request) -> web.Response:
        refused = problem(401, "Unauthenticated", "You did not pass a valid authentication token")
        account = {"type": "organization", "username": "acme", "name": "Acme", "github_url": None}
        return self.probe_failure(request, refused) or _json(200, account)

    # --- create ------------------------------------------------------------------------------
    async def create(self, request: web.Request) -> web.Response:
        key, behaviour = self.behaviour_of(request)
        await self.pause(behaviour)
        if not key:
            return problem(401, "Unauthenticated", "You did not pass an authentication token")
        failure = self._failure(behaviour)
        if failure is not None:
            return failure
        if request.match_info.get("owner") == "missing":
            return problem(404, "Not found", "The requested resource could not be found.")
        try:
            payload = await request.json()
        except ValueError:
            return problem(400, "Bad request", "The request body is not valid JSON.")
        version = payload.get("version")
        if "owner" not in request.match_info and not (isinstance(version, str) and VERSION.match(version)):
            return problem(422, "Invalid version or not permitted", "The specified version does not exist.")
        model_input = payload.get("input") if isinstance(payload.get("input"), dict) else {}
        refused = _refused_ratio(request.match_info, model_input) or self._refused_images(request, model_input)
        if refused:
            return refused
        if not model_input.get("prompt"):
            return problem(
                422,
                "Input validation failed",
                "- input: prompt is required",
                invalid_fields=[{"type": "required", "field": "input", "description": "prompt is required"}],
            )
        prediction_id = f"pred{next(self._ids):04d}{int(time.time()):x}"
        owner, name = request.match_info.get("owner"), request.match_info.get("name")
        self.predictions[prediction_id] = {
            "key": key,
            "behaviour": behaviour,
            "gets": 0,
            "status": "starting",
            "count": int(model_input.get("num_outputs") or 1),
            "model": f"{owner}/{name}" if owner else "community/model",
            "version": version or "hidden",
            "input": model_input,
            "output": None,
            "error": None,
        }
        wait = request.headers.get("Prefer", "")
        if wait.startswith("wait") and self.answer_within_wait and behaviour not in ("never",):
            self._finish(self.predictions[prediction_id])
        return _json(201, self._public(prediction_id), headers={"Location": self._urls(prediction_id)["get"]})

    def _failure(self, behaviour: str) -> web.Response | None:
        if behaviour == "invalid":
            return problem(401, "Unauthenticated", "You did not pass a valid authentication token")
        if behaviour == "no_credit":
            return problem(402, "Insufficient credit", "You have insufficient credit to run this model.")
        if behaviour == "invalid_input":
            return problem(
                422,
                "Input validation failed",
                "- input.aspect_ratio: aspect_ratio must be one of the following",
                invalid_fields=[
                    {"type": "enum", "field": "input.aspect_ratio", "description": "aspect_ratio must be 1:1, 16:9"}
                ],
            )
        if behaviour == "throttled":
            detail = f"Request was throttled. Expected available in {self.retry_after} seconds."
            return _json(429, {"detail": detail, "status": 429})
        if behaviour == "server_error":
            return _json(503, {"detail": "Internal server error", "status": 503})
        return None

    # --- get / cancel ------------------------------------------------------------------------
    async def get(self, request: web.Request) -> web.Response:
        prediction = self.predictions.get(request.match_info["id"])
        if self.poll_failures > 0:
            self.poll_failures -= 1
            return _json(503, {"detail": "Internal server error", "status": 503})
        if prediction is None:
            return problem(404, "Not found", "The requested resource could not be found.")
        if bearer(request) != prediction["key"]:
            return problem(401, "Unauthenticated", "You did not pass a valid authentication token")
        prediction["gets"] += 1
        if prediction["status"] in ("starting", "processing"):
            if prediction["behaviour"] != "never" and prediction["gets"] >= self.polls_to_finish:
                self._finish(prediction)
            else:
                prediction["status"] = "processing"
                if self.early_output and prediction["behaviour"] == "ok":
                    prediction["output"] = self._output(prediction)
        return _json(200, self._public(request.match_info["id"]))

    async def cancel(self, request: web.Request) -> web.Response:
        prediction_id = request.match_info["id"]
        prediction = self.predictions.get(prediction_id)
        if prediction is None:
            return problem(404, "Not found", "The requested resource could not be found.")
        if bearer(request) != prediction["key"]:
            return problem(401, "Unauthenticated", "You did not pass a valid authentication token")
        self.cancelled.append(prediction_id)
        if prediction["status"] in ("starting", "processing"):
            prediction["status"] = "canceled"
        await asyncio.sleep(0)
        return _json(200, self._public(prediction_id))

    # --- the prediction object ---------------------------------------------------------------
    def _finish(self, prediction: dict) -> None:
        behaviour = prediction["behaviour"]
        if behaviour == "nsfw":
            prediction.update(status="failed", error=NSFW)
        elif behaviour == "failed":
            prediction.update(status="failed", error="CUDA out of memory. Tried to allocate 2.00 GiB")
        elif behaviour == "canceled":
            prediction.update(status="canceled")
        elif behaviour == "empty":
            prediction.update(status="succeeded", output=[])
        else:
            prediction.update(status="succeeded", output=self._output(prediction))

    def _output(self, prediction: dict):
        if prediction["output"]:
            return prediction["output"]
        if self.output_kind == "string":
            return self.host()
        return [self.host() for _ in range(prediction["count"])]

    def _urls(self, prediction_id: str) -> dict[str, str]:
        base = (self.urls_base or self.url) + f"/v1/predictions/{prediction_id}"
        return {"get": base, "cancel": base + "/cancel", "stream": base + "/stream"}

    def _public(self, prediction_id: str) -> dict:
        prediction = self.predictions[prediction_id]
        done = prediction["status"] in ("succeeded", "failed", "canceled")
        return {
            "id": prediction_id,
            "model": prediction["model"],
            "version": prediction["version"],
            "input": prediction["input"],
            "logs": "",
            "output": prediction["output"],
            "data_removed": False,
            "error": prediction["error"],
            "status": prediction["status"],
            "created_at": "2026-01-10T10:00:00.000Z",
            "completed_at": "2026-01-10T10:00:01.600Z" if done else None,
            "urls": self._urls(prediction_id),
        }


PROFILE = KindProfile(
    fake=ReplicateFake,
    path="/v1",
    model="black-forest-labs/flux-schnell",
    moderated="nsfw",
    bad_key="invalid",
)


_FLUX_RATIOS = ("1:1", "16:9", "21:9", "3:2", "2:3", "4:5", "5:4", "3:4", "4:3", "9:16", "9:21")
# Each model's aspect_ratio enum on its Replicate schema ("custom" takes width/height instead).
ASPECT_RATIOS = {
    "black-forest-labs/flux-schnell": _FLUX_RATIOS,
    "black-forest-labs/flux-dev": (*_FLUX_RATIOS, "custom"),
    "black-forest-labs/flux-1.1-pro": ("1:1", "16:9", "3:2", "2:3", "4:5", "5:4", "9:16", "3:4", "4:3", "custom"),
    "black-forest-labs/flux-1.1-pro-ultra": _FLUX_RATIOS,
}


def _refused_ratio(match_info, model_input: dict) -> web.Response | None:
    allowed = ASPECT_RATIOS.get(f"{match_info.get('owner')}/{match_info.get('name')}")
    ratio = model_input.get("aspect_ratio")
    if allowed is None or ratio is None or ratio in allowed:
        return None
    description = f"aspect_ratio must be one of the following: {', '.join(allowed)}"
    return problem(
        422,
        "Input validation failed",
        f"- input.aspect_ratio: {description}",
        invalid_fields=[{"type": "enum", "field": "input.aspect_ratio", "description": description}],
    )
