"""The one door to the vendors: make images with a model, ask a chat vendor, put a key back.

Callers hand over a route (or a vendor id) and a request; everything else happens here: the
adapter of the vendor's kind, the shared HTTP client, the key loop (``vendors.keys``), and for
images the batching into as few calls as the model allows and the top-up of a short batch. Every
failure is an ``UpstreamError`` (``vendors.errors``).
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field, replace
from datetime import datetime
from typing import Protocol, TypeVar

import httpx
from django.utils import timezone

from core.http import get_client
from vendors import caps, errors, key_state
from vendors.adapters import adapter_class
from vendors.adapters.base import Adapter, ChatReply, ChatRequest, ImageRequest, UpstreamImage, VendorTarget
from vendors.keys import call_with_keys
from vendors.models import VendorKey
from vendors.selectors import KeyRef, ModelRoute, VendorRoute, vendor_route
from vendors.transport import dropped_connection

NO_IMAGE = "the vendor answered without an image"
OK = "ok"
INTERRUPTED = "interrupted"
T = TypeVar("T")


@dataclass(eq=False)  # compared and hashed by identity: an observer may key its records on it
class Attempt:
    """One call to a vendor with one key: reported before it is sent, its outcome filled in after."""

    vendor_id: int
    vendor_name: str
    model: str  # the public model name
    key_id: int
    key_label: str
    n: int  # images this call asks for
    started_at: datetime = field(default_factory=timezone.now)
    ended_at: datetime | None = None
    outcome: str = ""  # "" while in flight; then OK, the failure's code, or INTERRUPTED (cancelled)
    sent: bool | None = None  # whether the vendor had the request; None while in flight or when cut off

    def end(self, outcome: str, *, sent: bool | None) -> None:
        self.outcome, self.sent, self.ended_at = outcome, sent, timezone.now()


class AttemptObserver(Protocol):
    async def attempt_started(self, attempt: Attempt) -> None:
        """Called before the attempt's request is sent; the request waits for it (a write-ahead record)."""


def reached_vendor(exc: errors.UpstreamError) -> bool:
    """Whether the vendor had the request when ``exc`` ended it: False only when no connection was made."""
    if isinstance(exc, errors.UpstreamTimeout | errors.JobLost) or exc.vendor_status is not None:
        return True
    cause = exc.__cause__
    if cause is not None and dropped_connection(cause):  # a connection that closed on the request had it
        return True
    return not isinstance(cause, httpx.ConnectError | httpx.ConnectTimeout | httpx.PoolTimeout)


async def _observed(attempt: Attempt, observer: AttemptObserver | None, call: Callable[[], Awaitable[T]]) -> T:
    if observer is not None:
        await observer.attempt_started(attempt)
    try:
        value = await call()
    except errors.UpstreamError as exc:
        attempt.end(exc.code, sent=reached_vendor(exc))
        raise
    except BaseException:  # cancelled (the client left, the server stops) or a bug: the vendor may have it
        attempt.end(INTERRUPTED, sent=None)
        raise
    attempt.end(OK, sent=True)
    return value


@dataclass
class GeneratedImages:
    """What one model made: the images, why any of the ``n`` asked for are missing, and the keys used."""

    images: list[UpstreamImage]
    failures: list[str] = field(default_factory=list)
    key_labels: list[str] = field(default_factory=list)


def _adapter(vendor: VendorRoute) -> Adapter:
    target = VendorTarget(name=vendor.name, base_url=vendor.base_url, timeout=vendor.timeout)
    return adapter_class(vendor.kind)(target)


def images_per_call(route: ModelRoute) -> int:
    """The most images one call to ``route``'s model makes: its own limit (the catalog's), within its kind's."""
    return _per_call(_adapter(route.vendor), route, ImageRequest(prompt="", model=route.upstream_name))


def _per_call(adapter: Adapter, route: ModelRoute, request: ImageRequest) -> int:
    limit = adapter.max_batch(request)
    return min(limit, route.max_images) if route.max_images else limit


def short_reason(exc: errors.UpstreamError) -> str:
    """A few words on why a call failed, e.g. "upstream rate limited"."""
    last = exc.last if isinstance(exc, errors.AllKeysFailed) else None
    return (last or exc).code.replace("_", " ")


async def generate_images(
    route: ModelRoute,
    request: ImageRequest,
    observer: AttemptObserver | None = None,
    queueing: caps.Queueing = caps.WAIT,
) -> GeneratedImages:
    """``request.n`` images from one model: in as few calls as the model batches, all at once.

    A batch may come back short (SiliconFlow documents batch_size for Kolors only): the missing
    images are asked for once more, one per call. Images that still fail are reported, not fatal,
    as long as one image was made; with none, the first failure is raised, carrying in
    ``key_labels`` every key the request used. ``observer`` hears of each attempt before it is sent;
    each call first has room under the vendor's caps (or raises ``VendorBusy``), as ``queueing`` says.
    """
    adapter = _adapter(route.vendor)
    per_call = max(1, min(_per_call(adapter, route, request), request.n))
    batches = [min(per_call, request.n - start) for start in range(0, request.n, per_call)]
    made = GeneratedImages(images=[])
    seen: list[tuple[errors.UpstreamError, int]] = []  # each failed call, with the images it was for
    short = await _calls(route, adapter, request, batches, made, seen, observer, queueing)
    if short and made.images:
        await _calls(route, adapter, request, [1] * short, made, seen, observer, queueing)
    if not made.images:
        failure = seen[0][0] if seen else errors.GenerationFailed(NO_IMAGE)
        failure.key_labels = made.key_labels
        raise failure
    missing = request.n - len(made.images)
    made.failures = [short_reason(error) for error, count in seen for _ in range(count)][:missing]
    made.failures += [NO_IMAGE] * (missing - len(made.failures))
    return made


async def _calls(
    route: ModelRoute,
    adapter: Adapter,
    request: ImageRequest,
    counts: list[int],
    made: GeneratedImages,
    seen: list[tuple[errors.UpstreamError, int]],
    observer: AttemptObserver | None,
    queueing: caps.Queueing,
) -> int:
    """One call per count, all at once; images and failures go into ``made`` and ``seen``.
    Returns how many images the successful calls came back short by."""
    vendor = route.vendor

    async def one_call(count: int) -> list[UpstreamImage]:
        batch = replace(request, n=count)

        def attempt(key: KeyRef) -> Awaitable[list[UpstreamImage]]:
            record = Attempt(vendor.id, vendor.name, route.name, key.id, key.label, count)
            return _observed(record, observer, lambda: adapter.call(get_client(), batch, key.secret))

        result = await call_with_keys(vendor, attempt, queueing)
        made.key_labels.append(result.key_label)
        return list(result.value)[:count]

    results = await asyncio.gather(*(one_call(count) for count in counts), return_exceptions=True)
    short = 0
    for count, result in zip(counts, results, strict=True):
        if isinstance(result, errors.UpstreamError):
            if result.key_label:
                made.key_labels.append(result.key_label)
            seen.append((result, count))
        elif isinstance(result, BaseException):
            raise result
        else:
            made.images += result
            short += count - len(result)
    return short


async def complete_chat(vendor_id: int | None, request: ChatRequest) -> ChatReply:
    """One chat completion from an enabled chat vendor, with its keys in rotation."""
    vendor = await vendor_route(vendor_id)
    if vendor is None:
        raise errors.NoAvailableKey("the vendor is missing or disabled")
    adapter = _adapter(vendor)
    result = await call_with_keys(vendor, lambda key: adapter.call(get_client(), request, key.secret))
    return result.value


def reset_key(key: VendorKey, reason: str = "reset by the operator") -> None:
    """Put a key back into rotation, active, its failure count and evidence cleared (admin action, a probe)."""
    key_state.reinstate(key, reason)
