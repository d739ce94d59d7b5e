"""The one door to the vendors: make images with a model, ask a chat vendor, put a key back.

Callers hand over a route (or a vendor id) and a request; everything else happens here: the
adapter of the vendor's kind, the shared HTTP client, the key loop (``vendors.keys``), and for
images the batching into as few calls as the model allows and the top-up of a short batch. Every
failure is an ``UpstreamError`` (``vendors.errors``).
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field, replace

from django.core.cache import cache

from core.http import get_client
from vendors import errors
from vendors.adapters import adapter_class
from vendors.adapters.base import Adapter, ChatReply, ChatRequest, ImageRequest, UpstreamImage, VendorTarget
from vendors.keys import call_with_keys, cooldown_key, failures_key
from vendors.models import VendorKey
from vendors.selectors import ModelRoute, VendorRoute, vendor_route

NO_IMAGE = "the vendor answered without an image"


@dataclass
class GeneratedImages:
    """What one model made: the images, why any of the ``n`` asked for are missing, and the keys used."""

    images: list[UpstreamImage]
    failures: list[str] = field(default_factory=list)
    key_labels: list[str] = field(default_factory=list)


def _adapter(vendor: VendorRoute) -> Adapter:
    target = VendorTarget(name=vendor.name, base_url=vendor.base_url, timeout=vendor.timeout)
    return adapter_class(vendor.kind)(target)


def short_reason(exc: errors.UpstreamError) -> str:
    """A few words on why a call failed, e.g. "upstream rate limited"."""
    last = exc.last if isinstance(exc, errors.AllKeysFailed) else None
    return (last or exc).code.replace("_", " ")


async def generate_images(route: ModelRoute, request: ImageRequest) -> GeneratedImages:
    """``request.n`` images from one model: in as few calls as the model batches, all at once.

    A batch may come back short (SiliconFlow documents batch_size for Kolors only): the missing
    images are asked for once more, one per call. Images that still fail are reported, not fatal,
    as long as one image was made; with none, the first failure is raised, carrying in
    ``key_labels`` every key the request used.
    """
    adapter = _adapter(route.vendor)
    per_call = max(1, min(adapter.max_batch(request), request.n))
    batches = [min(per_call, request.n - start) for start in range(0, request.n, per_call)]
    made = GeneratedImages(images=[])
    seen: list[tuple[errors.UpstreamError, int]] = []  # each failed call, with the images it was for
    short = await _calls(route.vendor, adapter, request, batches, made, seen)
    if short and made.images:
        await _calls(route.vendor, adapter, request, [1] * short, made, seen)
    if not made.images:
        failure = seen[0][0] if seen else errors.GenerationFailed(NO_IMAGE)
        failure.key_labels = made.key_labels
        raise failure
    missing = request.n - len(made.images)
    made.failures = [short_reason(error) for error, count in seen for _ in range(count)][:missing]
    made.failures += [NO_IMAGE] * (missing - len(made.failures))
    return made


async def _calls(
    vendor: VendorRoute,
    adapter: Adapter,
    request: ImageRequest,
    counts: list[int],
    made: GeneratedImages,
    seen: list[tuple[errors.UpstreamError, int]],
) -> int:
    """One call per count, all at once; images and failures go into ``made`` and ``seen``.
    Returns how many images the successful calls came back short by."""

    async def one_call(count: int) -> list[UpstreamImage]:
        batch = replace(request, n=count)
        result = await call_with_keys(vendor, lambda key: adapter.call(get_client(), batch, key.secret))
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


def reset_key(key: VendorKey) -> None:
    """Put an auto-disabled key back into rotation (admin action)."""
    key.status = VendorKey.Status.ACTIVE
    key.failure_count = 0
    key.save(update_fields=["status", "failure_count"])
    cache.delete_many([cooldown_key(key.id), failures_key(key.id)])
