"""The adapter interface: one subclass per upstream API kind.

An adapter is mostly pure translation. ``build_request`` turns our request into an
``httpx.Request``; ``parse_response`` turns a 2xx answer into our result; ``classify_error``
turns a non-2xx answer into an :mod:`vendors.errors` class. The default ``call`` sends through
the shared client (``vendors.http.send``); polling kinds override ``call`` instead.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from math import gcd
from typing import Any, ClassVar

import httpx

from core.redaction import scrub
from vendors import errors
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


class Adapter:
    """Base for every kind. Subclasses set ``kind``, ``purpose`` and ``label`` and translate."""

    kind: ClassVar[str]
    label: ClassVar[str]
    purpose: ClassVar[str] = "image"  # "image" kinds serve ImageModels; "chat" kinds serve the optimizer
    default_size_format: ClassVar[str] = "size"  # used when the model's size_format is ""
    size_field: ClassVar[str] = "size"  # the JSON field a "size" format is sent in
    batch_limit: ClassVar[int] = 1  # most images one call can return (n / batch_size / num_images)

    def __init__(self, vendor: VendorTarget):
        self.vendor = vendor

    def build_request(self, request: Any, key: str) -> httpx.Request:
        raise NotImplementedError

    def parse_response(self, response: httpx.Response) -> Any:
        raise NotImplementedError

    def classify_error(self, response: httpx.Response) -> errors.UpstreamError:
        return classify_by_status(response, vendor_message(response))

    async def call(self, client: httpx.AsyncClient, request: Any, key: str) -> Any:
        response = await send(client, self.build_request(request, key), timeout=self.vendor.timeout)
        if response.status_code >= 400:
            raise self.classify_error(response)
        return self.parse_response(response)

    def max_batch(self, request: ImageRequest) -> int:
        """How many of ``request.n`` images one call may ask for; the pipeline makes more calls for the rest."""
        return self.batch_limit

    def size_fields(self, request: ImageRequest) -> dict[str, Any]:
        """The request's size in the fields this model takes (see SIZE_FORMATS)."""
        size_format = request.size_format or self.default_size_format
        if size_format == "width_height":
            return {"width": request.width, "height": request.height}
        if size_format == "aspect_ratio":
            return {"aspect_ratio": request.aspect_ratio}
        if size_format == "none":
            return {}
        return {self.size_field: request.size}

    def url(self, path: str) -> str:
        """``{base}/{path}``, or the base itself when it is already that endpoint (as the seed's
        FLUX_GEN_API_BASE often is)."""
        base, path = self.vendor.base_url.rstrip("/"), path.strip("/")
        return base if base.endswith("/" + path) else f"{base}/{path}"


def json_body(response: httpx.Response) -> Any:
    """The body as JSON (object, array or bare string), or None when it is not JSON."""
    try:
        return json.loads(response.content)
    except (ValueError, UnicodeDecodeError):
        return None


def vendor_message(response: httpx.Response, body: Any = None) -> str:
    """The vendor's own words about a failure, scrubbed of URLs and keys, at most 300 characters."""
    if body is None:
        body = json_body(response)
    text = _message_from(body)
    if text is None:
        text = response.text.strip() if response.content else ""
    # Bound the text before the regexes run: an error page can be megabytes of HTML. The margin
    # keeps a URL or key that straddles 300 characters whole for scrub to find.
    text = scrub(text[:2000])[:300]
    return text or f"HTTP {response.status_code}"


def sent_key(response: httpx.Response) -> str:
    """The key the request of ``response`` carried (Bearer, ``Key`` or ``x-key``), to scrub from messages."""
    try:
        headers = response.request.headers
    except RuntimeError:  # a response built without its request
        return ""
    return headers.get("x-key") or headers.get("authorization", "").split(" ", 1)[-1].strip()


def clean_message(response: httpx.Response, body: Any = None) -> str:
    """``vendor_message``, also scrubbed of the exact key this request sent (vendors echo it back)."""
    message = vendor_message(response, body)
    key = sent_key(response)
    return scrub(message, key) if key else message


def _message_from(body: Any) -> str | None:
    if isinstance(body, str):
        return body
    if isinstance(body, list) and body:
        return _message_from(body[0])
    if not isinstance(body, dict):
        return None
    error = body.get("error")
    if isinstance(error, dict):
        return _message_from(error)
    if isinstance(error, str):
        return error
    for field in ("message", "detail", "title", "errors", "msg"):
        value = body.get(field)
        if isinstance(value, str) and value:
            return value
        if isinstance(value, list) and value:
            first = value[0]
            return first if isinstance(first, str) else _message_from(first)
    return None


def classify_by_status(response: httpx.Response, message: str) -> errors.UpstreamError:
    """The default decision by status alone; adapters look at the body first for their traps."""
    status = response.status_code
    if status in (401, 402, 403):
        return errors.KeyRejected(message, vendor_status=status)
    if status == 429:
        retry_after = errors.parse_retry_after(response.headers.get("retry-after"))
        return errors.RateLimited(message, retry_after=retry_after, vendor_status=status)
    if status == 408 or status >= 500:
        return errors.UpstreamUnavailable(message, vendor_status=status)
    return errors.BadRequest(message, vendor_status=status)
