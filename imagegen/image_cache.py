"""The opt-in image cache: a request made before gets the images stored then, with no vendor call and no cost.

A model opts in with ``ImageModel.image_cache_seconds`` (0, the default: off). A request hits when it asks that
model for the same prompt (as sent, after the optimizer), size, n, quality, style, style preset (with the version
of its content: its negative prompt is sent too), seed and input images (their SHA-256s) as an answer of the
last ``image_cache_seconds``. The gateway takes no seed from clients, so the seed's slot in the key is always
empty and opting in means "the same prompt makes the same image" even where the vendor would draw a new seed.

The shared cache maps a hash of those (never the raw prompt) to the ``StoredImage`` ids of that answer, so
every worker and instance finds it. A hit needs each of the images still live (not taken down, not purged,
not past its expiry): otherwise it is a miss, and the entry is dropped. Only whole answers the model made
itself are kept: not a fallback model's images, not an answer missing some of its n images, not a cache hit.
Two identical requests at once may both miss and both generate; the later one's images are kept.
"""

from __future__ import annotations

import hashlib
import json
import logging

from django.core.cache import cache
from django.db.models import Q
from django.utils import timezone

from core import metrics
from core.db import run_cache, run_db
from imagegen.generation import GenerationOutcome, GenerationRequest
from proxy.models import StoredImage

log = logging.getLogger(__name__)

PREFIX = "images:cache:v1:"
SEED = ""  # the gateway passes no seed to vendors (yet): the key's seed slot


def cache_key(request: GenerationRequest, size: str, prompt: str) -> str:
    route = request.route
    parts = [route.name, route.vendor.id, route.upstream_name, prompt, size, request.n]
    parts += [request.quality or "", request.style or "", SEED, request.preset.cache_slot if request.preset else ""]
    if request.images:  # the input images' SHA-256s: the same prompt with another image is another request
        parts.append(request.input_digests)
    digest = hashlib.sha256(json.dumps(parts, ensure_ascii=False).encode()).hexdigest()
    return PREFIX + digest


def enabled(request: GenerationRequest) -> bool:
    return request.route.image_cache_seconds > 0


async def cached_images(request: GenerationRequest, size: str, prompt: str) -> list[StoredImage] | None:
    """The live images of the same request made before, in their order; None on a miss or when the model
    has no image cache."""
    if not enabled(request):
        return None
    key = cache_key(request, size, prompt)
    try:
        ids = await run_cache(cache.get, key)
    except Exception:  # a cache is a saving, never a reason to fail
        log.warning("the image cache could not be read; asking the vendor", exc_info=True)
        metrics.cache_lookup("image", False)
        return None
    if not isinstance(ids, list) or len(ids) != request.n:
        metrics.cache_lookup("image", False)
        return None
    images = await run_db(_live, ids)
    if images is None:
        await _forget(key)
    metrics.cache_lookup("image", images is not None)
    return images


def _live(ids: list[int]) -> list[StoredImage] | None:
    now = timezone.now()
    rows = StoredImage.objects.filter(pk__in=ids, removed_at__isnull=True).filter(
        Q(expires_at__isnull=True) | Q(expires_at__gt=now)
    )
    found = {row.pk: row for row in rows}
    if len(found) != len(ids):
        return None  # one of them was taken down, purged or is past its expiry: never served from here
    return [found[pk] for pk in ids]


async def _forget(key: str) -> None:
    try:
        await run_cache(cache.delete, key)
    except Exception:
        log.warning("the image cache could not drop an entry of removed images", exc_info=True)


def keeps(request: GenerationRequest, outcome: GenerationOutcome) -> bool:
    """Whether the answer goes into the cache: a whole answer of the asked-for model, fresh from its vendor."""
    return (
        enabled(request)
        and not outcome.from_cache
        and outcome.model == request.route.name
        and not outcome.failures
        and len(outcome.images) == request.n
    )


async def keep_images(request: GenerationRequest, outcome: GenerationOutcome) -> None:
    if not keeps(request, outcome):
        return
    key = cache_key(request, outcome.requested_size, outcome.prompt)
    ids = [image.pk for image in outcome.images]
    try:
        await run_cache(cache.set, key, ids, request.route.image_cache_seconds)
    except Exception:  # the images are stored and answered: never fail the request here
        log.warning("the image cache could not be written; the answer is not kept", exc_info=True)
