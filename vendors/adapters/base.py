"""The adapter contract: one subclass per upstream API kind.

``Adapter[RequestT, ResultT]`` is the typed contract; image kinds subclass ``ImageAdapter``
(``ImageRequest -> list[UpstreamImage]``), chat kinds ``ChatAdapter`` (``ChatRequest -> ChatReply``).
An adapter is mostly pure translation. ``build_request`` turns our request into an ``httpx.Request``;
``parse_response`` turns a 2xx answer into our result; ``error_facts`` reads a failed answer into
:class:`vendors.errors.ErrorFacts`, which :func:`vendors.errors.classify` decides with the kind's
``error_table``. The default ``call`` sends through the shared client (``vendors.transport.send``);
polling kinds override ``call`` instead. How answers are read (JSON, messages, codes) is in
:mod:`vendors.adapters.reading`.
"""

from __future__ import annotations

import base64
import dataclasses
from dataclasses import dataclass
from math import gcd
from typing import ClassVar, Generic, TypeVar

import httpx

from vendors import errors
from vendors.adapters import probing
from vendors.adapters.reading import Json, clean_message, error_codes, is_html_page, json_body, retry_after_of
from vendors.errors import ErrorFacts, ErrorTable
from vendors.transport import send


@dataclass(frozen=True)
class VendorTarget:
    """What an adapter knows of its vendor row."""

    name: str
    base_url: str
    timeout: float = 120.0


# How a model takes its size (ImageModel.size_format); "" means the kind's usual way.
SIZE_FORMATS: dict[str, str] = {
    "": "the kind's usual way",
    "size": "one WxH string (image_size / size)",
    "width_height": "width and height integers",
    "aspect_ratio": "an aspect ratio such as 16:9",
    "preset": "a named preset (fal: landscape_16_9, ...)",
    "none": "not sent (the model has one size)",
}


@dataclass(frozen=True)
class InputImage:
    """An image the client sent in (to edit, restyle or follow): bytes already verified, their type and size."""

    data: bytes
    content_type: str  # image/png, image/jpeg or image/webp
    width: int
    height: int

    def b64(self) -> str:
        return base64.b64encode(self.data).decode("ascii")

    def data_url(self) -> str:
        return f"data:{self.content_type};base64,{self.b64()}"


@dataclass(frozen=True)
class ImageRequest:
    prompt: str
    model: str  # the upstream model name
    width: int = 1024
    height: int = 1024
    n: int = 1
    ratio: str = ""  # the ratio size negotiation chose from the model's list, e.g. "21:9"; "" = from width/height
    size_format: str = ""  # one of SIZE_FORMATS; "" = the adapter's default_size_format
    quality: str | None = None  # OpenAI Images' quality and style, passed on when the client sent them
    style: str | None = None
    images: tuple[InputImage, ...] = ()  # input images in the client's order: image-to-image, edit, references
    mask: InputImage | None = None  # an edit's mask (OpenAI's convention: transparent = change here); only with images
    negative_prompt: str | None = None  # what to keep out, for kinds that take one (a style preset's)

    @property
    def size(self) -> str:
        return f"{self.width}x{self.height}"

    @property
    def aspect_ratio(self) -> str:
        if self.ratio:
            return self.ratio
        divisor = gcd(self.width, self.height)
        return f"{self.width // divisor}:{self.height // divisor}"


@dataclass(frozen=True)
class UpstreamImage:
    """One image as the vendor gave it: a URL to fetch, base64 (or a data URL), or raw bytes."""

    url: str | None = None
    b64: str | None = None
    data: bytes | None = None
    content_type: str | None = None
    revised_prompt: str | None = None
    seed: int | None = None


@dataclass(frozen=True)
class ChatRequest:
    model: str
    system: str
    user: str
    max_tokens: int = 1024
    temperature: float = 0.7


@dataclass(frozen=True)
class ChatReply:
    content: str
    reasoning: str | None = None
    finish_reason: str | None = None
    # The tokens the LLM says it billed (OpenAI's usage.prompt_tokens / completion_tokens); None when it said nothing.
    prompt_tokens: int | None = None
    completion_tokens: int | None = None


RequestT = TypeVar("RequestT")
ResultT = TypeVar("ResultT")


class Adapter(Generic[RequestT, ResultT]):
    """Base for every kind. Subclasses set ``kind`` and ``label``, translate, and declare ``error_table``."""

    kind: ClassVar[str]
    label: ClassVar[str]
    purpose: ClassVar[str] = "image"  # "image" kinds serve ImageModels; "chat" kinds serve the optimizer
    batch_limit: ClassVar[int] = 1  # most images one call can return (n / batch_size / num_images)
    error_table: ClassVar[ErrorTable] = ErrorTable()  # how this kind's errors differ (vendors.errors)

    def __init__(self, vendor: VendorTarget):
        self.vendor = vendor

    def build_request(self, request: RequestT, key: str) -> httpx.Request:
        raise NotImplementedError

    def parse_response(self, response: httpx.Response) -> ResultT:
        raise NotImplementedError

    async def call(self, client: httpx.AsyncClient, request: RequestT, key: str) -> ResultT:
        response = await send(client, self.build_request(request, key), timeout=self.vendor.timeout)
        if response.status_code >= 400:
            raise self.classify_error(response)
        return self.parse_response(response)

    def max_batch(self, request: RequestT) -> int:
        """How many of ``request.n`` images one call may ask for; the pipeline makes more calls for the rest."""
        return self.batch_limit

    # --- failures: read the facts here, let the table decide ----------------------------------
    def error_facts(self, response: httpx.Response, body: Json) -> ErrorFacts:
        """The facts of a failed answer. Kinds override to read their own codes, message or wait. An HTML
        page is ``foreign``: no API here answers with one, a proxy or a firewall in front of it does."""
        return ErrorFacts(
            status=response.status_code,
            message=clean_message(response, body),
            codes=error_codes(body),
            retry_after=retry_after_of(response.headers),
            foreign=is_html_page(response, body),
        )

    def classify_error(self, response: httpx.Response, *, status: int | None = None) -> errors.UpstreamError:
        """The error class of a failed answer; ``status`` stands in for the HTTP one (an error inside a 200)."""
        facts = self.error_facts(response, json_body(response))
        if status is not None:
            facts = dataclasses.replace(facts, status=status)
        return errors.classify(facts, self.error_table)

    def error_in_success(self, response: httpx.Response, body: Json) -> errors.UpstreamError | None:
        """The error a 2xx body carries as ``{"error": ...}`` (OpenRouter once generation started, relays),
        classified with the status its numeric ``error.code`` names, else as the 2xx it came in."""
        if not isinstance(body, dict) or not body.get("error"):
            return None
        error = body["error"]
        code = error.get("code") if isinstance(error, dict) else None
        status = int(code) if isinstance(code, int | str) and str(code).isdigit() else 0
        return self.classify_error(response, status=status if 400 <= status <= 599 else None)

    # --- the free key check (vendors.adapters.probing) ----------------------------------------
    def probe_requests(self, key: str) -> list[httpx.Request]:
        """GETs that check ``key`` and generate nothing (a models list, an account, a balance), tried in
        order while one answers 404; empty when the kind's API has no such endpoint."""
        return []

    def probe_summary(self, body: Json) -> str:
        """A few words from a passing probe's answer: a balance, an account, how many models."""
        return ""

    def probe_verdict(self, response: httpx.Response) -> tuple[bool | None, str, str]:
        """``(passed, summary, error code)`` of a probe's answer (:func:`vendors.adapters.probing.verdict`)."""
        return probing.verdict(self, response)

    def root(self, *endpoints: str) -> str:
        """The base URL without a trailing endpoint path it may name (``/images/generations``...)."""
        base = self.vendor.base_url.rstrip("/")
        for endpoint in endpoints:
            base = base.removesuffix("/" + endpoint.strip("/"))
        return base

    def url(self, path: str) -> str:
        """``{base}/{path}``, or the base itself when it is already that endpoint (as the seed's
        FLUX_GEN_API_BASE often is)."""
        base, path = self.vendor.base_url.rstrip("/"), path.strip("/")
        return base if base.endswith("/" + path) else f"{base}/{path}"


class ImageAdapter(Adapter[ImageRequest, list[UpstreamImage]]):
    """Base of the image kinds: ``ImageRequest -> list[UpstreamImage]``, and how a size is sent."""

    purpose = "image"
    default_size_format: ClassVar[str] = "size"  # used when the model's size_format is ""
    # The most input images this kind's wire format carries in one call (0: it takes none), and whether it
    # carries a mask; each model's own ``input_images`` / ``takes_mask`` (from the catalog) say what it accepts.
    input_image_limit: ClassVar[int] = 0
    carries_mask: ClassVar[bool] = False
    size_field: ClassVar[str] = "size"  # the JSON field a "size" format is sent in

    def size_fields(self, request: ImageRequest) -> dict[str, Json]:
        """The request's size in the fields this model takes (see SIZE_FORMATS)."""
        size_format = request.size_format or self.default_size_format
        if size_format == "width_height":
            return {"width": request.width, "height": request.height}
        if size_format == "aspect_ratio":
            return {"aspect_ratio": request.aspect_ratio}
        if size_format == "none":
            return {}
        return {self.size_field: request.size}


class ChatAdapter(Adapter[ChatRequest, ChatReply]):
    """Base of the chat kinds (the prompt optimizer): ``ChatRequest -> ChatReply``."""

    purpose = "chat"


def bearer_headers(key: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {key}", "Content-Type": "application/json", "Accept": "application/json"}
