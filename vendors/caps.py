"""Vendor caps: at most so many calls a minute and so many at once, for every worker and instance together.

The count lives in Django's shared cache (Redis, or the file cache every worker of the machine opens):

- a running call holds one of the vendor's ``max_concurrent_calls`` slot entries, each added with
  ``cache.add`` (atomic in both backends) and leased for the vendor's timeout plus ``LEASE_GRACE``, so a
  worker that dies mid-call frees its slot when the lease ends; a call that ends, fails or is cancelled
  frees it at once;
- a call counts in the second it starts; the minute is the last 61 one-second counters, so no 60 seconds of
  real time ever hold more than ``requests_per_minute`` calls.

A request that finds no room takes a ticket and waits in the vendor's queue (at most ``VENDOR_QUEUE_LENGTH``
waiting, each at most ``VENDOR_QUEUE_WAIT`` seconds). Its position is the number of live tickets before its
own; only the first few in line look for room, and a newcomer never passes anyone waiting (first in, first
out, give or take the moment two workers look at once). A waiter that stops refreshing its ticket (its worker
died) drops out of the line after ``WAITER_TTL``. Past the wait: :class:`VendorBusy` (503 ``vendor_busy``).
"""

from __future__ import annotations

import asyncio
import math
import time
import uuid
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager, suppress
from dataclasses import dataclass

from django.conf import settings
from django.core.cache import cache

from core.db import run_cache
from vendors.errors import UpstreamError
from vendors.selectors import VendorRoute

POLL = 0.2  # seconds between a waiter's looks
WAITER_TTL = 3.0  # a ticket not refreshed for this long has left the line
LEASE_GRACE = 30.0  # a slot outlives its call's timeout by this much, then frees itself
WINDOW = 61  # one-second counters making up the minute (one more than 60: calls straddle second edges)
TRY_AHEAD = 16  # only this many at the front of the line look for room on each poll

Progress = Callable[[str], None]


class VendorBusy(UpstreamError):
    """The vendor is at its cap and no room came in time: nothing was sent."""

    status = 503
    code = "vendor_busy"
    tries_next_key = False
    counts_as_failure = False


def _key(vendor_id: int, *parts: object) -> str:
    return ":".join(("vendorcap", str(vendor_id), *map(str, parts)))


@dataclass(frozen=True)
class Held:
    """A call's place: the slot entry it holds (if the vendor caps concurrency) and the token in it."""

    slot: str | None
    token: str


@dataclass(frozen=True)
class Queueing:
    """How a call meets its vendor's caps: whether it waits its turn, and who hears its place in line."""

    wait: bool = True
    progress: Progress | None = None


WAIT = Queueing()  # the usual way: wait in line, unheard
Looked = tuple[Held | None, int, float | None]  # room taken (or None), waiters ahead, seconds until a minute has room


def capped(vendor: VendorRoute) -> bool:
    return bool(vendor.requests_per_minute or vendor.max_concurrent_calls)


# --- room: the slots and the minute's counters (blocking, in the executor) -----------------------------
def _lease(vendor: VendorRoute) -> int:
    return math.ceil(vendor.timeout + LEASE_GRACE)  # whole seconds: Redis would round 0.5 s down to none


def _take_slot(vendor: VendorRoute, token: str, position: int) -> str | None:
    """A slot entry now held by ``token``, when more are free than ``position`` (the waiters ahead)."""
    keys = [_key(vendor.id, "slot", index) for index in range(vendor.max_concurrent_calls)]
    held = cache.get_many(keys)
    free = [key for key in keys if key not in held]
    lease = _lease(vendor)
    for key in free[position:] if len(free) > position else ():
        if cache.add(key, token, timeout=lease):
            return key
    return None


def _minute(vendor: VendorRoute) -> tuple[int, float]:
    """Calls counted in the last minute, and seconds until its oldest counted second leaves it."""
    now = time.time()
    seconds = range(int(now) - WINDOW + 1, int(now) + 1)
    counts = cache.get_many([_key(vendor.id, "rpm", second) for second in seconds])
    by_second = [(second, counts.get(_key(vendor.id, "rpm", second), 0)) for second in seconds]
    oldest = next((second for second, count in by_second if count), int(now))
    return sum(count for _, count in by_second), max(1.0, oldest + WINDOW - now)


def _count_call(vendor: VendorRoute) -> bool:
    """Count a call in this second; False (and uncounted) when that overfilled the minute."""
    _count_anyway(vendor)
    if _minute(vendor)[0] <= vendor.requests_per_minute:
        return True
    with suppress(ValueError):  # another worker counted at the same moment: both give way, not both pass
        cache.decr(_key(vendor.id, "rpm", int(time.time())))
    return False


def _take_room(vendor: VendorRoute, token: str, position: int = 0) -> tuple[Held | None, float | None]:
    """Room for one call when there is room for ``position`` calls ahead of it too; else (None, seconds
    until the minute has room, when the minute is what is full)."""
    if vendor.requests_per_minute:
        counted, hint = _minute(vendor)
        if counted + position >= vendor.requests_per_minute:
            return None, hint
    slot = _take_slot(vendor, token, position) if vendor.max_concurrent_calls else None
    if vendor.max_concurrent_calls and slot is None:
        return None, None
    if vendor.requests_per_minute and not _count_call(vendor):
        if slot is not None:
            _free_slot(slot, token)
        return None, _minute(vendor)[1]
    return Held(slot, token), None


def _count_anyway(vendor: VendorRoute) -> None:
    counter = _key(vendor.id, "rpm", int(time.time()))
    cache.add(counter, 0, timeout=WINDOW + 1)
    try:
        cache.incr(counter)
    except ValueError:  # evicted between add and incr
        cache.set(counter, 1, timeout=WINDOW + 1)


def _free_slot(slot: str, token: str) -> None:
    if cache.get(slot) == token:  # a lease that ran out may be someone else's slot by now
        cache.delete(slot)


# --- the line (blocking, in the executor) ------------------------------------------------------------
def _ahead(vendor_id: int, ticket: int) -> int:
    """Live tickets before ``ticket``; moves the line's head past the tickets that left."""
    head_key = _key(vendor_id, "head")
    head = max(cache.get(head_key) or 1, ticket - max(4 * settings.VENDOR_QUEUE_LENGTH, 200))
    tickets = range(head, ticket)
    live = cache.get_many([_key(vendor_id, "waiter", number) for number in tickets])
    alive = [number for number in tickets if _key(vendor_id, "waiter", number) in live]
    first = alive[0] if alive else ticket
    if first > head:
        cache.set(head_key, first, timeout=None)
    return len(alive)


def _enter(vendor: VendorRoute, token: str) -> Looked:
    """Room at once when nobody waits; else how many wait, and the minute's hint."""
    issued = cache.get(_key(vendor.id, "ticket")) or 0
    waiting = _ahead(vendor.id, issued + 1)
    if waiting:
        return None, waiting, None
    held, hint = _take_room(vendor, token)
    return held, 0, hint


def _join(vendor: VendorRoute) -> int:
    counter = _key(vendor.id, "ticket")
    cache.add(counter, 0, timeout=None)
    try:
        ticket = cache.incr(counter)
    except ValueError:  # evicted between add and incr
        ticket = int(time.time() * 1000)  # far past any number still in line
        cache.set(counter, ticket, timeout=None)
    cache.set(_key(vendor.id, "waiter", ticket), 1, timeout=WAITER_TTL)
    return ticket


def _turn(vendor: VendorRoute, ticket: int, token: str) -> Looked:
    """One look from the line: refresh the ticket; room if it is this ticket's turn; its position."""
    cache.set(_key(vendor.id, "waiter", ticket), 1, timeout=WAITER_TTL)
    position = _ahead(vendor.id, ticket)
    if position >= TRY_AHEAD:
        return None, position, None
    held, hint = _take_room(vendor, token, position)
    return held, position, hint


def _release(vendor: VendorRoute, held: Held) -> None:
    if held.slot is not None:
        _free_slot(held.slot, held.token)


# --- waiting (async) ---------------------------------------------------------------------------------
async def _look(look: Callable[..., Looked], vendor: VendorRoute, *args: object) -> Looked:
    """``look`` on the cache (``run_cache``); a request cancelled meanwhile gives back the room it took."""
    running = asyncio.ensure_future(run_cache(look, vendor, *args))
    try:
        return await asyncio.shield(running)
    except asyncio.CancelledError:
        held = (await asyncio.shield(running))[0]
        if held is not None:
            await asyncio.shield(run_cache(_release, vendor, held))
        raise


async def _wait_in_line(vendor: VendorRoute, token: str, progress: Progress) -> Held:
    ticket = await run_cache(_join, vendor)
    deadline, shown, hint = time.monotonic() + settings.VENDOR_QUEUE_WAIT, None, None
    try:
        while True:
            held, position, hint = await _look(_turn, vendor, ticket, token)
            if held is not None:
                return held
            if position != shown:
                shown = position
                progress(f"{vendor.name} is at its limit; waiting in its queue at position {position + 1}.")
            if time.monotonic() >= deadline:
                raise _busy(vendor, hint, f"no call could start within {settings.VENDOR_QUEUE_WAIT:g} s")
            await asyncio.sleep(POLL if position < TRY_AHEAD else POLL * 5)  # the back of the line looks less
    finally:
        await asyncio.shield(run_cache(cache.delete, _key(vendor.id, "waiter", ticket)))


def _busy(vendor: VendorRoute, hint: float | None, why: str) -> VendorBusy:
    retry = math.ceil(hint) if hint else max(1, math.ceil(settings.VENDOR_QUEUE_WAIT))
    return VendorBusy(
        f"Vendor {vendor.name!r} is at its limit of requests per minute or concurrent calls and {why}; "
        f"nothing was sent. Try again in {retry} s.",
        retry_after=retry,
    )


async def _acquire(vendor: VendorRoute, progress: Progress, wait: bool) -> Held:
    token = uuid.uuid4().hex
    held, waiting, hint = await _look(_enter, vendor, token)
    if held is not None:
        return held
    if not wait or settings.VENDOR_QUEUE_WAIT <= 0:
        raise _busy(vendor, hint, "no call can start now")
    if waiting >= settings.VENDOR_QUEUE_LENGTH:
        raise _busy(vendor, hint, "its queue is full")
    return await _wait_in_line(vendor, token, progress)


def _quiet(step: str) -> None:
    pass


@asynccontextmanager
async def vendor_call(vendor: VendorRoute, queueing: Queueing = WAIT) -> AsyncIterator[Held | None]:
    """Room for one call to ``vendor`` under its caps, held while the block runs (and freed however it ends).

    Without room the call waits its turn (``queueing.progress`` hears its position), unless ``queueing.wait``
    is False; either way, no room in time raises ``VendorBusy`` before anything is sent. The block gets the
    room it holds (None when the vendor has no caps), for ``count_retry``.
    """
    if not capped(vendor):
        yield None
        return
    held = await _acquire(vendor, queueing.progress or _quiet, queueing.wait)
    try:
        yield held
    finally:
        await asyncio.shield(run_cache(_release, vendor, held))


def _again(vendor: VendorRoute, held: Held) -> None:
    if vendor.requests_per_minute:
        _count_anyway(vendor)
    if held.slot is not None and cache.get(held.slot) == held.token:  # a new call: a new lease
        cache.touch(held.slot, timeout=_lease(vendor))


async def count_retry(vendor: VendorRoute, held: Held | None) -> None:
    """A call that has its room sends again (with the next key): the minute counts it, holding nothing back,
    and the slot's lease starts again."""
    if held is not None:
        await run_cache(_again, vendor, held)
