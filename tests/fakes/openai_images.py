"""Fake OpenAI Images API and its look-alikes (vendor-protocols §3): OpenAI, Together, xAI and relays.

    fake = OpenAIImagesFake().start()
    base_url = fake.url + "/v1"
    fake.flavour = "xai"                 # which vendor it plays (below); default "openai"
    fake.keys = {"sk-bad": "invalid"}    # behaviour per key; other keys get fake.default_behaviour ("ok")
    fake.image = jpeg_bytes()            # the image returned (base64 inline, or hosted at /files/<name>)
    fake.latency = 0.5
    fake.url_ttl = 2.0 / fake.expire_files()   # hosted URLs expire (OpenAI's live 60 minutes)

Flavours, all on ``POST /v1/images/generations``:

- ``openai`` switches on the model. GPT image (``gpt-image-*``): base64 only, with ``output_format`` and
  ``usage``; **400 ``unknown_parameter`` when ``response_format`` is sent**; size one of 1024x1024, 1536x1024,
  1024x1536, auto. ``dall-e-3``: URL by default (``b64_json`` on request), always a ``revised_prompt``, **400
  ``invalid_value`` unless n=1**; sizes 1024x1024, 1792x1024, 1024x1792. ``dall-e-2``: URL by default; square
  sizes 256/512/1024. Other models: 404 ``model_not_found``.
- ``together``: ``width``/``height`` integers (default 1024, ``size`` ignored); items ``{"index", "url"}``, or
  ``{"index", "b64_json", "type": "b64_json"}`` for ``response_format: "base64"``.
- ``xai``: ``aspect_ratio`` from xAI's list; **400 in xAI's shape (``error`` a string) for ``size``,
  ``quality`` or ``style``**; URL items with ``revised_prompt``.
- ``relay``: any model, ``response_format`` accepted, answers with URLs even for GPT image models.

``POST /v1/images/edits`` (multipart, OpenAI's refusals of each model): ``tests.fakes.openai_edits``.

Behaviours: ``ok``; ``slow`` (sleeps ``fake.slow_seconds`` more); ``empty`` (200 with ``data: []``);
``rate_limited_reset`` (429 ``rate_limit_exceeded`` without Retry-After, with OpenAI's ``x-ratelimit-*``
headers: requests spent, reset ``1m30s``); ``billing_limit`` (400 ``billing_hard_limit_reached``);
``gpt_moderated`` (400 ``moderation_blocked`` with ``moderation_details``); ``region`` (403
``unsupported_country_region_territory``); and every name in ``tests.fakes.openai_chat.OPENAI_ERRORS``:
``invalid`` (401), ``rate_limited`` / ``quota`` (the two 429s), ``policy`` (400 ``content_policy_violation``),
``moderation_blocked``, ``xai_invalid`` (xAI's 400 bad key), ``bad_request``, ``server_error`` (500),
``overloaded`` (503), ``timeout`` (408), ...
"""

from __future__ import annotations

import base64
import time

from aiohttp import web

from tests.fakes.openai_chat import openai_error
from tests.fakes.openai_edits import edit
from tests.fakes.profile import KindProfile
from tests.fakes.siliconflow import VendorFake, _json, models_list

FLAVOURS = ("openai", "together", "xai", "relay")
GPT_IMAGE_SIZES = {"1024x1024", "1536x1024", "1024x1536", "auto"}
DALL_E_3_SIZES = {"1024x1024", "1792x1024", "1024x1792"}
DALL_E_2_SIZES = {"256x256", "512x512", "1024x1024"}
XAI_RATIOS = {"1:1", "16:9", "9:16", "4:3", "3:4", "3:2", "2:3", "2:1", "1:2", "20:9", "9:20", "19.5:9", "9:19.5"}
XAI_RATIOS |= {"auto"}

IMAGE_ERRORS: dict[str, tuple[int, dict]] = {
    "billing_limit": (
        400,
        {
            "error": {
                "message": "Billing hard limit has been reached.",
                "type": "image_generation_user_error",
                "param": None,
                "code": "billing_hard_limit_reached",
            }
        },
    ),
    "gpt_moderated": (
        400,
        {
            "error": {
                "message": "Your request was rejected by the safety system. If you believe this is an error, "
                "contact us at https://help.example and include the request ID req_0001.",
                "type": "image_generation_user_error",
                "param": None,
                "code": "moderation_blocked",
                "moderation_details": {"moderation_stage": "input", "categories": ["violence"]},
            }
        },
    ),
    "region": (
        403,
        {
            "error": {
                "message": "Country, region, or territory not supported",
                "type": "request_forbidden",
                "param": None,
                "code": "unsupported_country_region_territory",
            }
        },
    ),
}


def _openai_400(message: str, param: str | None, code: str) -> web.Response:
    return _json(400, {"error": {"message": message, "type": "invalid_request_error", "param": param, "code": code}})


def _xai_400(message: str) -> web.Response:
    return _json(400, {"code": "Client specified an invalid argument", "error": message})


class OpenAIImagesFake(VendorFake):
    api_paths = ("/v1/images/generations", "/v1/images/edits")

    def __init__(self, keys: dict[str, str] | None = None, *, flavour: str = "openai", latency: float = 0.0):
        super().__init__(keys, latency=latency)
        self.flavour = flavour
        self.edits: list[dict] = []  # what each /images/edits call brought (tests.fakes.openai_edits)

    def setup_routes(self, app: web.Application) -> None:
        super().setup_routes(app)
        app.router.add_post("/v1/images/generations", self.generate)
        app.router.add_post("/v1/images/edits", lambda request: edit(self, request))
        app.router.add_get("/v1/models", self.models)

    async def models(self, request: web.Request) -> web.Response:
        key, behaviour = self.behaviour_of(request)
        refused = openai_error("invalid", key, self.retry_after)
        return self.probe_failure(request, refused) or models_list("gpt-image-1", "dall-e-3", "dall-e-2")

    def b64(self) -> str:
        return base64.b64encode(self.image).decode()

    async def generate(self, request: web.Request) -> web.Response:
        key, behaviour = self.behaviour_of(request)
        await self.pause(behaviour)
        failure = self._failure(behaviour, key)
        if failure is not None:
            return failure
        try:
            payload = await request.json()
        except ValueError:
            return _openai_400("We could not parse the JSON body of your request.", None, "invalid_json")
        if not isinstance(payload, dict) or not payload.get("prompt"):
            return _openai_400("Missing required parameter: 'prompt'.", "prompt", "missing_required_parameter")
        n = payload.get("n", 1)
        if not isinstance(n, int) or not 1 <= n <= 10:
            return _openai_400(f"Invalid 'n': {n!r}. Expected a value between 1 and 10.", "n", "invalid_value")
        count = 0 if behaviour == "empty" else n
        answer = {"openai": self._openai, "together": self._together, "xai": self._xai, "relay": self._relay}
        return answer[self.flavour](payload, count)

    def _failure(self, behaviour: str, key: str) -> web.Response | None:
        if behaviour in IMAGE_ERRORS:
            return _json(*IMAGE_ERRORS[behaviour])
        if behaviour == "rate_limited_reset":
            body = {"error": {"message": "Rate limit reached for images per minute.", "type": "requests"}}
            body["error"]["code"] = "rate_limit_exceeded"
            headers = {
                "x-ratelimit-limit-requests": "5",
                "x-ratelimit-remaining-requests": "0",
                "x-ratelimit-reset-requests": "1m30s",
                "x-ratelimit-remaining-tokens": "4000",
                "x-ratelimit-reset-tokens": "20ms",
            }
            return _json(429, body, headers=headers)
        return openai_error(behaviour, key, self.retry_after)

    # --- flavours ------------------------------------------------------------------------------
    def _openai(self, payload: dict, count: int) -> web.Response:
        model = str(payload.get("model") or "")
        size = payload.get("size")
        if model.startswith("gpt-image"):
            if "response_format" in payload:
                return _openai_400("Unknown parameter: 'response_format'.", "response_format", "unknown_parameter")
            if size is not None and size not in GPT_IMAGE_SIZES:
                allowed = "'1024x1024', '1024x1536', '1536x1024', and 'auto'"
                return _openai_400(
                    f"Invalid value: '{size}'. Supported values are: {allowed}.", "size", "invalid_value"
                )
            return _json(
                200,
                {
                    "created": int(time.time()),
                    "background": "opaque",
                    "output_format": "png",
                    "quality": payload.get("quality", "medium"),
                    "size": size or "1024x1024",
                    "data": [{"b64_json": self.b64()} for _ in range(count)],
                    "usage": {"input_tokens": 42, "output_tokens": 1056, "total_tokens": 1098},
                },
            )
        if model == "dall-e-3":
            if payload.get("n", 1) != 1:
                return _openai_400("You must provide n=1 for this model.", "n", "invalid_value")
            sizes = DALL_E_3_SIZES
        elif model == "dall-e-2":
            sizes = DALL_E_2_SIZES
        else:
            message = f"The model '{model}' does not exist or you do not have access to it."
            return _json(
                404, {"error": {"message": message, "type": "invalid_request_error", "code": "model_not_found"}}
            )
        if size is not None and size not in sizes:
            return _openai_400(f"'{size}' is not one of {sorted(sizes)} - 'size'", "size", "invalid_value")
        response_format = payload.get("response_format", "url")
        if response_format not in ("url", "b64_json"):
            return _openai_400(f"Invalid value: '{response_format}'.", "response_format", "invalid_value")
        items = []
        for _ in range(count):
            item = {"url": self.host()} if response_format == "url" else {"b64_json": self.b64()}
            if model == "dall-e-3":
                item["revised_prompt"] = f"A detailed rendering of {payload['prompt']}"
            items.append(item)
        return _json(200, {"created": int(time.time()), "data": items})

    def _together(self, payload: dict, count: int) -> web.Response:
        for field in ("width", "height"):
            value = payload.get(field, 1024)
            if not isinstance(value, int) or not 64 <= value <= 2048:
                message = f"{field} must be an integer between 64 and 2048"
                return _json(400, {"error": {"message": message, "type": "invalid_request_error", "param": field}})
        if payload.get("response_format") == "base64":
            items = [{"index": i, "b64_json": self.b64(), "type": "b64_json"} for i in range(count)]
        else:
            items = [{"index": i, "url": self.host()} for i in range(count)]
        return _json(
            200, {"id": f"img-{time.monotonic_ns()}", "model": payload.get("model"), "object": "list", "data": items}
        )

    def _xai(self, payload: dict, count: int) -> web.Response:
        for field in ("size", "quality", "style"):
            if field in payload:
                return _xai_400(f"Argument not supported: {field}")
        ratio = payload.get("aspect_ratio", "1:1")
        if ratio not in XAI_RATIOS:
            return _xai_400(f"Invalid aspect_ratio: {ratio}")
        revised = f"A vivid image of {payload['prompt']}"
        if payload.get("response_format") == "b64_json":
            items = [{"b64_json": self.b64(), "revised_prompt": revised} for _ in range(count)]
        else:
            items = [{"url": self.host(), "revised_prompt": revised} for _ in range(count)]
        return _json(200, {"data": items})

    def _relay(self, payload: dict, count: int) -> web.Response:
        if payload.get("response_format") == "b64_json":
            return _json(200, {"created": int(time.time()), "data": [{"b64_json": self.b64()} for _ in range(count)]})
        return _json(200, {"created": int(time.time()), "data": [{"url": self.host()} for _ in range(count)]})


PROFILE = KindProfile(
    fake=OpenAIImagesFake,
    path="/v1",
    model="dall-e-3",
    moderated="policy",
    bad_key="invalid",
)
