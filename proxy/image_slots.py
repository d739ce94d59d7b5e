"""How many images each worker fetches, checks and writes at once (IMAGE_PREPARE_CONCURRENCY), per image host."""

from __future__ import annotations

import asyncio
import collections
import contextlib
from collections.abc import AsyncIterator

from django.conf import settings

from core.state import process_state


class _ImageSlots:
    """This process's bounds on images being fetched, checked and written at once: per event loop, per origin."""

    def __init__(self) -> None:
        self.loop: asyncio.AbstractEventLoop | None = None
        self.by_origin: dict[str, asyncio.Semaphore] = {}
        self.users: collections.Counter[str] = collections.Counter()


@contextlib.asynccontextmanager
async def image_slot(source: str) -> AsyncIterator[None]:
    """One of IMAGE_PREPARE_CONCURRENCY places for images from ``source`` (an image host's origin; "" for
    bytes the vendor sent in its answer). A thousand vendor answers arriving in the same instant would
    otherwise hold a thousand images in memory at once (200 MB for 200 KB images, the most of a worker's
    peak in the bench); in turn, each holds its bytes only while it is worked on, and the first answers
    are out sooner. Per origin, so that one vendor's slow image host never holds up another's images."""
    slots = process_state().slot(_ImageSlots)
    loop = asyncio.get_running_loop()
    if slots.loop is not loop:  # a loop that ended (tests run several) keeps no semaphore alive
        slots.loop, slots.by_origin, slots.users = loop, {}, collections.Counter()
    if source not in slots.by_origin:
        slots.by_origin[source] = asyncio.Semaphore(settings.IMAGE_PREPARE_CONCURRENCY)
    slots.users[source] += 1
    try:
        async with slots.by_origin[source]:
            yield
    finally:
        slots.users[source] -= 1
        if not slots.users[source]:  # nobody holds or waits: vendors' many hosts do not pile up
            del slots.users[source], slots.by_origin[source]
