"""Calling a vendor with its keys in rotation: the one retry loop, and the key state it writes.

Where each request starts in the key list is a counter in Django's cache, so every worker shares
one rotation; so are cooldowns. Every rest lies between ``MIN_REST`` and ``KEY_MAX_COOLDOWN``,
whatever the vendor asked for: a ``Retry-After`` of 31 years rests a key for the ceiling. A key that
times out counts toward its failure streak like one that answers 5xx, so a hanging key rests too,
while the request that timed out is never sent again. Disabled state, failure counts, the last
error (the operator's text, ``detail``) and the last use live on the ``VendorKey`` row, where the
admin shows them, with the gateway's verdict on the key (``vendors.key_evidence`` decides it from the
cache, ``vendors.key_state`` writes it when it changes). What this process remembers between calls
(which keys are on a failing streak, the verdicts it last saw, when it last wrote a key's last use) is
its :class:`KeyBook`, kept in the process state. Each call
first has room under the vendor's caps (``vendors.caps``), once the keys say it can be tried. Callers
outside ``vendors`` use ``vendors.services``.
"""

from __future__ import annotations

import logging
import math
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Generic, TypeVar

from django.conf import settings
from django.core.cache import cache
from django.utils import timezone

from core import metrics
from core.db import run_cache, run_db
from core.redaction import admin_text, client_text
from core.state import process_state
from vendors import caps, errors, key_state
from vendors.key_events import key_auto_disabled
from vendors.key_evidence import bounded_rest, cooldown_key, failures_key, verdict_after_success, weigh
from vendors.models import VendorKey
from vendors.selectors import KeyRef, VendorRoute, invalidate_routing_table

log = logging.getLogger(__name__)
T = TypeVar("T")

# The admin needs a key's last use to the minute, not a write per request.
LAST_USE_RESOLUTION = 30.0
# How far apart the clocks of workers on different hosts may be when they compare a rest's end.
CLOCK_SKEW = 60.0


@dataclass
class KeyBook:
    """This process's notes on its keys."""

    failing: set[int] = field(default_factory=set)  # last call failed: the next success ends the streak
    last_use_written: dict[int, float] = field(default_factory=dict)  # key id -> monotonic time
    verdicts: dict[int, str] = field(default_factory=dict)  # key id -> the verdict this process last wrote or saw


def _book() -> KeyBook:
    return process_state().slot(KeyBook)


@dataclass(frozen=True)
class KeyedResult(Generic[T]):
    value: T
    key_label: str


def _keys_in_turn(vendor: VendorRoute) -> tuple[list[KeyRef], float | None]:
    """The usable keys in turn, and when none is usable, seconds until the first comes back."""
    counter = f"vendor:{vendor.id}:rotation"
    cache.add(counter, 0, timeout=None)
    try:
        start = cache.incr(counter)
    except ValueError:  # evicted between add and incr
        start = 1
        cache.set(counter, start, timeout=None)
    count = len(vendor.keys)
    return _usable([vendor.keys[(start + i) % count] for i in range(count)])


def _rest_left(vendor: VendorRoute) -> float | None:
    """Seconds until the first of the vendor's keys is back, when none can be used now (else None)."""
    return _usable(list(vendor.keys))[1]


def _usable(ordered: list[KeyRef]) -> tuple[list[KeyRef], float | None]:
    """The keys of ``ordered`` not resting, in that order; with none, seconds until the first is back."""
    now, longest = time.time(), settings.KEY_MAX_COOLDOWN + CLOCK_SKEW
    # A rest ending past the ceiling was set before there was one (or before it was lowered): it is over.
    entries = cache.get_many([cooldown_key(key.id) for key in ordered])
    # A rest on the row counts too (another instance's, with a cache of its own), as of the routing table.
    on_rows = {cooldown_key(key.id): key.resting_until for key in ordered if (key.resting_until or 0) > now}
    entries = on_rows | entries
    cooling = {name: end for name, end in entries.items() if not end or end - now <= longest}
    usable = [key for key in ordered if cooldown_key(key.id) not in cooling]
    ends = [end for end in cooling.values() if end]
    back_in = bounded_rest(min(ends) - now) if ends and not usable else None
    return usable, back_in


async def keys_in_turn(vendor: VendorRoute) -> tuple[list[KeyRef], float | None]:
    """The vendor's usable keys, not cooling down, starting at the next one in turn."""
    if not vendor.keys:
        return [], None
    return await run_cache(_keys_in_turn, vendor)


async def call_with_keys(
    vendor: VendorRoute, attempt: Callable[[KeyRef], Awaitable[T]], queueing: caps.Queueing = caps.WAIT
) -> KeyedResult[T]:
    """Run ``attempt`` with one key after another until one succeeds or the error says stop.

    The call first has room under the vendor's caps (``vendors.caps``), held through its retries, or
    waits for it as ``queueing`` says. Raises the stopping ``UpstreamError`` itself, ``NoAvailableKey``
    when no key could be tried, ``VendorBusy`` when no room came in time, or ``AllKeysFailed`` when every
    key was tried; each carries ``key_label`` when a key was used.
    """
    keys, back_in = await keys_in_turn(vendor)
    if not keys:
        raise _no_available_key(vendor, back_in)
    async with caps.vendor_call(vendor, queueing) as room:
        return await _try_in_turn(vendor, keys, attempt, room)


async def _try_in_turn(
    vendor: VendorRoute, keys: list[KeyRef], attempt: Callable[[KeyRef], Awaitable[T]], room: caps.Held | None
) -> KeyedResult[T]:
    last_error: errors.UpstreamError | None = None
    calls = metrics.VENDOR_CALLS
    for key in keys:
        if last_error is not None:
            await caps.count_retry(vendor, room)
        try:
            value = await attempt(key)
        except errors.UpstreamError as exc:
            calls.labels(vendor.name, vendor.kind, exc.code).inc()
            exc.key_label = key.label
            # Whatever an adapter put in its error: the client's text cleaned, both without the key.
            exc.message = client_text(exc.message, key.secret, limit=None)
            exc.detail = admin_text(exc.detail, key.secret, limit=None)
            last_error = exc
            await _record_failure(vendor, key, exc)
            if not exc.tries_next_key:
                raise
            continue
        except BaseException:
            calls.labels(vendor.name, vendor.kind, "interrupted").inc()  # cancelled, or a bug
            raise
        calls.labels(vendor.name, vendor.kind, "ok").inc()
        await _record_success(key)
        return KeyedResult(value=value, key_label=key.label)
    failed = f"Vendor {vendor.name!r} failed with all {len(keys)} usable key(s); last error: {{}}"
    error = errors.AllKeysFailed(
        failed.format(last_error.message), detail=failed.format(last_error.detail), last=last_error
    )
    error.retry_after = await run_cache(_rest_left, vendor)  # every key resting now: when one is back
    raise error


def _no_available_key(vendor: VendorRoute, back_in: float | None) -> errors.NoAvailableKey:
    reason = "cooling down or disabled" if vendor.keys else "disabled (or none are configured)"
    message = f"No key of vendor {vendor.name!r} can be used now: all are {reason}."
    if back_in is not None:
        message += f" The first one is back in {math.ceil(back_in)} s."  # as Retry-After: never sooner
    return errors.NoAvailableKey(message, retry_after=back_in)


async def _record_success(key: KeyRef) -> None:
    book, now = _book(), time.monotonic()
    known = book.verdicts.get(key.id, key.state)
    if known != VendorKey.Status.ACTIVE:  # under suspicion, or back from a rest: count the call
        verdict = await run_cache(verdict_after_success, key.id)
        book.failing.discard(key.id)
        if verdict != known:
            book.last_use_written[key.id] = now
            book.verdicts[key.id] = await run_db(key_state.record_recovery, key.id, verdict) or verdict
            return
    if key.id in book.failing or now - book.last_use_written.get(key.id, -LAST_USE_RESOLUTION) >= LAST_USE_RESOLUTION:
        book.last_use_written[key.id] = now
        book.failing.discard(key.id)
        await run_db(_mark_used, key.id)


async def _record_failure(vendor: VendorRoute, key: KeyRef, exc: errors.UpstreamError) -> None:
    log.warning("vendor %s key %s: %s (%s)", vendor.name, key.label, exc.code, exc.detail)
    verdict = await run_cache(weigh, vendor, key, exc)
    if verdict is None:
        return  # bad requests and content policy say nothing about the key
    if exc.counts_as_failure and not exc.disables_key:
        _book().failing.add(key.id)
    state = await run_db(key_state.record_failure, key.id, exc, verdict)
    if state is not None:
        _book().verdicts[key.id] = state
    if state == VendorKey.Status.AUTO_DISABLED:
        invalidate_routing_table()
        key_auto_disabled(vendor.id, vendor.name, key.id, key.label, exc.code, exc.message)


def _mark_used(key_id: int) -> None:
    cache.delete(failures_key(key_id))  # a success ends a streak of failures
    VendorKey.objects.filter(pk=key_id).update(last_used_at=timezone.now())


def usable_now(keys: list[KeyRef]) -> tuple[list[KeyRef], float | None]:
    """The keys of ``keys`` not resting now, in order; with none, seconds until the first is back (readiness)."""
    return _usable(keys)
