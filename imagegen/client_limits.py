"""A client key's limits, checked before the first vendor call, through the shared cache.

:func:`admit` runs the key's checks in order (:data:`CHECKS`) in one thread hop; the first refusal
undoes what the earlier ones reserved and is the answer. What passes is an :class:`Admission`, which
the request holds until its generation ends, however it ends, and then releases.

- **Requests per minute**: a fixed window, the clock minute (UTC). Every request that reaches the
  check counts, also one refused later by another limit. Over it: 429 ``rate_limit_exceeded``,
  ``Retry-After`` until the minute ends, and OpenAI's ``x-ratelimit-*-requests`` headers, which
  successful answers carry too.
- **Generations in flight**: one cache entry per slot (``max_in_flight`` of them), taken with an
  atomic ``add`` and a lease of CLIENT_KEY_SLOT_LEASE seconds that the request renews while it runs; released
  when the generation ends. A worker that dies stops renewing, so its slots come free within a lease.
- **Images per day** (UTC): ``n`` is added to the day's count before the call (refused whole if it
  would pass the limit: 429 ``insufficient_quota``), then the images not delivered are given back.
- **Monthly budget** (``imagegen.client_budget``): refused once the ledger's spend of the UTC month has
  reached it (429 ``insufficient_quota``); one query, so a key with a budget is checked in a database hop.

Every worker and instance sharing the cache (Redis, or the file cache) sees the same counts.
"""

from __future__ import annotations

import asyncio
import logging
import math
import secrets
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

from django.conf import settings
from django.core.cache import cache

from core.db import run_cache, run_db
from imagegen.client_budget import monthly_budget
from imagegen.client_keys import Caller
from imagegen.errors import KeyQuotaExceeded, KeyRateLimited

log = logging.getLogger(__name__)

WINDOW_SECONDS = 60


@dataclass(eq=False)
class Admission:
    """What a request reserved: headers for its answer, an in-flight slot, images of the day."""

    caller: Caller
    headers: dict[str, str] = field(default_factory=dict)
    slot: str = ""
    lease: str = ""
    day_key: str = ""
    images_reserved: int = 0
    released: bool = False
    claimed: bool = False  # a stream took charge of giving it back
    _lock: threading.Lock = field(default_factory=threading.Lock)
    _renewal: asyncio.Task | None = None

    async def release(self, delivered: int = 0) -> None:
        """Gives back the slot and the images not delivered; once, however often it is called."""
        if self._renewal is not None:
            self._renewal.cancel()
        if (self.slot or self.day_key) and not self.released:
            await asyncio.shield(run_cache(self.release_blocking, delivered))

    def claim(self) -> None:
        self.claimed = True

    def release_unclaimed(self) -> None:
        """For a streamed answer's closer: gives everything back if the stream never began."""
        if not self.claimed:
            self.release_blocking()

    def release_blocking(self, delivered: int = 0) -> None:
        with self._lock:
            if self.released:
                return
            self.released = True
        try:
            if self.slot and cache.get(self.slot) == self.lease:
                cache.delete(self.slot)
            if self.day_key and delivered < self.images_reserved:
                _add(self.day_key, delivered - self.images_reserved, lifetime=2 * 86400)
        except Exception as exc:  # a cache that stopped answering must not cost the client its images
            log.warning("could not give back a client key's reservation (%s); its lease runs out", type(exc).__name__)

    async def _renew(self) -> None:
        lease = settings.CLIENT_KEY_SLOT_LEASE
        while not self.released:
            await asyncio.sleep(lease / 3)
            if self.released:
                return
            try:
                await run_cache(cache.touch, self.slot, lease)
            except Exception as exc:  # the next renewal may succeed; the lease outlasts two misses
                log.warning("could not renew an in-flight slot (%s)", type(exc).__name__)


def _add(key: str, amount: int, lifetime: int) -> int:
    """Adds ``amount`` to a shared counter (made with this lifetime if missing); its new value."""
    try:
        return cache.incr(key, amount)
    except ValueError:  # not there yet (or just expired): the first to add it sets its lifetime
        if cache.add(key, amount, timeout=lifetime):
            return amount
        return cache.incr(key, amount)


def reset_text(seconds: float) -> str:
    """A wait in OpenAI's x-ratelimit-reset format: ``7s``, ``1m0s``."""
    minutes, whole = divmod(max(1, math.ceil(seconds)), 60)
    return f"{minutes}m{whole}s" if minutes else f"{whole}s"


def requests_per_minute(caller: Caller, n: int, admission: Admission) -> None:
    limit = caller.requests_per_minute
    if limit is None:
        return
    now = time.time()
    window = int(now // WINDOW_SECONDS)
    left = (window + 1) * WINDOW_SECONDS - now
    count = _add(f"clientkey:{caller.client_key_id}:rpm:{window}", 1, lifetime=WINDOW_SECONDS + 5)
    admission.headers = {
        "x-ratelimit-limit-requests": str(limit),
        "x-ratelimit-remaining-requests": str(max(limit - count, 0)),
        "x-ratelimit-reset-requests": reset_text(left),
    }
    if count > limit:
        message = f"This API key is limited to {limit} requests per minute; try again in {math.ceil(left)} s."
        raise KeyRateLimited(message, retry_after=max(1, math.ceil(left)), headers=admission.headers)


def generations_in_flight(caller: Caller, n: int, admission: Admission) -> None:
    limit = caller.max_in_flight
    if limit is None:
        return
    slots = [f"clientkey:{caller.client_key_id}:flight:{index}" for index in range(limit)]
    taken = cache.get_many(slots)
    lease = secrets.token_hex(8)
    for slot in slots:
        if slot not in taken and cache.add(slot, lease, timeout=settings.CLIENT_KEY_SLOT_LEASE):
            admission.slot, admission.lease = slot, lease
            return
    message = f"This API key already has {limit} generations in flight, its limit; try again when one ends."
    raise KeyRateLimited(message, retry_after=1, headers=admission.headers)


def images_per_day(caller: Caller, n: int, admission: Admission) -> None:
    limit = caller.images_per_day
    if limit is None:
        return
    now = datetime.now(UTC)
    tomorrow = datetime.combine(now.date() + timedelta(days=1), datetime.min.time(), UTC)
    left = math.ceil((tomorrow - now).total_seconds())
    key = f"clientkey:{caller.client_key_id}:images:{now.date().isoformat()}"
    total = _add(key, n, lifetime=left + 3600)
    if total > limit:
        _add(key, -n, lifetime=left + 3600)
        used = max(total - n, 0)
        message = (
            f"This API key has used {used} of its {limit} images for today (UTC) and asked for {n} more; "
            f"the count starts again at 00:00 UTC."
        )
        raise KeyQuotaExceeded(message, retry_after=left)
    admission.day_key, admission.images_reserved = key, n


# In order: the first refusal gives back what the earlier ones reserved.
CHECKS: tuple[Callable[[Caller, int, Admission], None], ...] = (
    requests_per_minute,
    generations_in_flight,
    images_per_day,
    monthly_budget,
)


def _limited(caller: Caller) -> bool:
    limits = (caller.requests_per_minute, caller.max_in_flight, caller.images_per_day, caller.monthly_budget)
    return any(limit is not None for limit in limits)


def _check_all(caller: Caller, n: int) -> Admission:
    admission = Admission(caller)
    try:
        for check in CHECKS:
            check(caller, n, admission)
    except BaseException:
        admission.release_blocking()
        raise
    return admission


_releasing: set[asyncio.Future] = set()  # held until done: the loop keeps only weak references to tasks


def _release_unused(checking: asyncio.Future) -> None:
    if not checking.cancelled() and checking.exception() is None:
        releasing = asyncio.ensure_future(checking.result().release())
        _releasing.add(releasing)
        releasing.add_done_callback(_releasing.discard)


async def admit(caller: Caller, n: int) -> Admission:
    """The key's checks for a request of ``n`` images, before any vendor call; the admission to release."""
    if not _limited(caller):
        return Admission(caller)
    hop = run_cache if caller.monthly_budget is None else run_db  # the budget reads the ledger
    checking = asyncio.ensure_future(hop(_check_all, caller, n))
    try:
        admission = await asyncio.shield(checking)
    except asyncio.CancelledError:  # the client left while the checks ran: give back what they reserve
        checking.add_done_callback(_release_unused)
        raise
    if admission.slot:
        admission._renewal = asyncio.create_task(admission._renew())
    return admission
