"""Fake image model behind /chat/completions (vendor-protocols §4): OpenRouter and relay answer shapes.

    fake = ChatImageFake(mode="markdown_https_url").start()
    base_url = fake.url + "/v1"
    fake.keys = {"sk-bad": "invalid", "sk-flagged": "moderated"}   # other keys: fake.default_behaviour ("ok")
    fake.mode = "images_array"          # how an ok answer carries the image (below)
    fake.image = jpeg_bytes()           # the image returned (inline, raw, or hosted at /files/<name>)
    fake.latency = 0.5
    fake.url_ttl = 2.0 / fake.expire_files()   # hosted URLs (markdown_https_url, bare_https_url) expire

Modes: ``images_array`` (OpenRouter ``message.images[]`` data URL); ``markdown_data_url``; ``markdown_https_url``
(URL served by this fake); ``content_parts`` (a list with a text and an image_url part); ``bare_data_url``;
``bare_https_url``; ``raw_bytes`` (the body is the image itself); ``text_only`` (a description, no image);
``text_refusal`` (an apology citing the content policy); ``content_filter`` (no content, finish_reason
content_filter); ``http200_error`` (HTTP 200 with ``{"error": {"code": fake.error_code, ...}}``).

Input images: ``image_url`` data-URL parts after the text part of the user message; their SHA-256s are recorded
in ``fake.received_images`` (one list per call); more than ``fake.max_input_images`` (3), another format, an http
URL or the text not first is a 400.

Behaviours: ``ok``, ``slow`` and every name in ``tests.fakes.openai_chat.OPENAI_ERRORS``: ``invalid`` (401),
``no_credits`` (402), ``moderated`` (403 OpenRouter moderation), ``forbidden_key`` (403 naming the key),
``rate_limited`` / ``quota`` (the two 429s), ``policy``, ``xai_invalid``, ``gemini_invalid``,
``provider_down`` (502), ...
"""

from __future__ import annotations

import base64
import re

from aiohttp import web

from tests.fakes.openai_chat import completion, openai_error
from tests.fakes.profile import KindProfile
from tests.fakes.siliconflow import VendorFake, _json, image_mime, models_list

DATA_URL = re.compile(r"data:image/(?:png|jpeg|webp);base64,([A-Za-z0-9+/=]+)")

MODES = (
    "images_array",
    "markdown_data_url",
    "markdown_https_url",
    "content_parts",
    "bare_data_url",
    "bare_https_url",
    "raw_bytes",
    "text_only",
    "text_refusal",
    "content_filter",
    "http200_error",
)


class ChatImageFake(VendorFake):
    api_paths = ("/v1/chat/completions",)

    def __init__(self, keys: dict[str, str] | None = None, *, mode: str = "images_array", latency: float = 0.0):
        super().__init__(keys, latency=latency)
        self.mode = mode
        self.key_endpoint = True  # OpenRouter's GET /v1/key; False: a relay that has only /v1/models
        self.error_code = 502
        self.error_message = "Provider returned error"
        self.max_input_images = 3  # Gemini 2.5 Flash Image's; more is a 400
        self.received_images: list[list[bytes]] = []  # per call: the bytes of the image parts it brought

    def setup_routes(self, app: web.Application) -> None:
        super().setup_routes(app)
        app.router.add_post("/v1/chat/completions", self.complete)
        app.router.add_get("/v1/key", self.key_info)
        app.router.add_get("/v1/models", self.models)

    async def key_info(self, request: web.Request) -> web.Response:
        if not self.key_endpoint:  # a relay: no /key, the probe moves on to /models
            return web.Response(status=404, text="404 page not found")
        key, _ = self.behaviour_of(request)
        data = {"label": "sk-or-v1-abc...xyz", "limit": 10, "limit_remaining": 7.5, "usage": 2.5, "is_free_tier": False}
        return self.probe_failure(request, openai_error("invalid", key, self.retry_after)) or _json(200, {"data": data})

    async def models(self, request: web.Request) -> web.Response:
        key, _ = self.behaviour_of(request)
        refused = openai_error("invalid", key, self.retry_after)
        return self.probe_failure(request, refused) or models_list("google/gemini-2.5-flash-image")

    def data_url(self) -> str:
        return f"data:{image_mime(self.image)};base64,{base64.b64encode(self.image).decode()}"

    async def complete(self, request: web.Request) -> web.Response:
        key, behaviour = self.behaviour_of(request)
        await self.pause(behaviour)
        failure = openai_error(behaviour, key, self.retry_after)
        if failure is not None:
            return failure
        if self.mode not in MODES:
            raise ValueError(f"unknown mode {self.mode!r}")
        if self.mode == "raw_bytes":
            return web.Response(body=self.image, content_type=image_mime(self.image))
        if self.mode == "http200_error":
            return web.json_response({"error": {"code": self.error_code, "message": self.error_message}})
        body = await request.json()
        refused = self._take_images(body)
        if refused is not None:
            return refused
        return web.json_response(completion(body.get("model", ""), **self._answer()))

    def _take_images(self, body: dict) -> web.Response | None:
        """Records the image parts of the user message; refuses (400) what OpenRouter's Gemini refuses."""
        content = body["messages"][-1].get("content")
        parts = content if isinstance(content, list) else []
        urls = [part["image_url"]["url"] for part in parts if part.get("type") == "image_url"]
        if parts and parts[0].get("type") != "text":
            return _json(400, {"error": {"code": 400, "message": "The text part must come first."}})
        found = [DATA_URL.fullmatch(url) for url in urls]
        if any(match is None for match in found) or len(found) > self.max_input_images:
            message = f"Send at most {self.max_input_images} images as PNG, JPEG or WebP data URLs."
            return _json(400, {"error": {"code": 400, "message": message}})
        self.received_images.append([base64.b64decode(match[1]) for match in found])
        return None

    def _answer(self) -> dict:
        mode = self.mode
        if mode == "images_array":
            image = {"type": "image_url", "image_url": {"url": self.data_url()}}
            return {"message": {"content": "Here is your lantern.", "images": [image]}}
        if mode == "markdown_data_url":
            return {"message": {"content": f"Here you go!\n![image]({self.data_url()})"}}
        if mode == "markdown_https_url":
            return {"message": {"content": f"![]({self.host()})"}}
        if mode == "content_parts":
            parts = [{"type": "text", "text": "Generated image:"}]
            parts.append({"type": "image_url", "image_url": {"url": self.data_url()}})
            return {"message": {"content": parts}}
        if mode == "bare_data_url":
            return {"message": {"content": f"Result: {self.data_url()}"}}
        if mode == "bare_https_url":
            return {"message": {"content": f"Your image is ready: {self.host()} (valid for one hour)."}}
        if mode == "text_only":
            return {"message": {"content": "A red lantern hangs over a wet street, its glow smeared by rain."}}
        if mode == "text_refusal":
            text = "I'm sorry, but I can't create that image because it may violate the content policy."
            return {"message": {"content": text}}
        return {"message": {"content": None}, "finish_reason": "content_filter", "native_finish_reason": "IMAGE_SAFETY"}


PROFILE = KindProfile(
    fake=ChatImageFake,
    path="/v1",
    model="google/gemini-2.5-flash-image-preview",
    moderated="moderated",
    bad_key="invalid",
)
