"""What the shared cache knows about each key, and the verdict a failed call leads to.

Every worker reads and writes the same entries (Django's cache): a key's rest (its end, 0 when disabled),
its failure streak, the number of its calls counted, and, per class of failure (the error's code), the
call numbers of its recent failures. A failure of a class that counts (vendor down, no image, timeout,
lost job) makes the key suspect until ``failure_window`` calls pass without one; ``failures_to_disable``
failures of one class in its last ``failure_window`` calls auto-disable it, unless every other key of
the vendor fails that way too (then the vendor is at fault, not the key: it rests instead). A rejection
(401, a spent balance) disables at once, a rate limit rests the key. Calls are counted only while a key
is under suspicion, so a healthy key's success costs no write here.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass
from datetime import UTC, datetime

from django.conf import settings
from django.core.cache import cache

from vendors import errors
from vendors.key_models import VendorKey
from vendors.selectors import KeyRef, VendorRoute

Status = VendorKey.Status
# An auto-disabled key stays out of rotation in every worker until their routing tables reload.
DISABLED_COOLDOWN = 3600.0
# The shortest rest: a Retry-After of 0, or a date already past, still lets the vendor breathe.
MIN_REST = 1.0
# How long the evidence of a key nobody calls is kept.
EVIDENCE_TTL = 7 * 86400
COUNTED = ("upstream_unavailable", "upstream_no_image", "upstream_timeout", "upstream_job_lost")


@dataclass(frozen=True)
class Verdict:
    """The state a failure leads a key to, why, and for a rest, when it ends."""

    state: str
    reason: str
    until: datetime | None = None


def cooldown_key(key_id: int) -> str:
    return f"vendorkey:{key_id}:cooldown"


def failures_key(key_id: int) -> str:
    return f"vendorkey:{key_id}:failures"


def calls_key(key_id: int) -> str:
    return f"vendorkey:{key_id}:calls"


def suspect_key(key_id: int) -> str:
    return f"vendorkey:{key_id}:suspect-until"  # the call number from which its failures are out of the window


def evidence_key(key_id: int, code: str) -> str:
    return f"vendorkey:{key_id}:failed:{code}"


def all_entries(key_id: int) -> list[str]:
    return [
        *(cooldown_key(key_id), failures_key(key_id), calls_key(key_id), suspect_key(key_id)),
        *(evidence_key(key_id, code) for code in COUNTED),
    ]


def bounded_rest(seconds: float) -> float:
    """``seconds`` within ``[MIN_REST, KEY_MAX_COOLDOWN]`` (infinity is the ceiling, NaN the floor)."""
    if math.isnan(seconds):
        return MIN_REST
    return min(max(seconds, MIN_REST), settings.KEY_MAX_COOLDOWN)


def cool(key_id: int, seconds: float, *, disabled: bool = False) -> datetime | None:
    """Rest a key (at most ``KEY_MAX_COOLDOWN``); the entry holds when it ends (0: disabled, no end known)."""
    if disabled:
        cache.set(cooldown_key(key_id), 0.0, timeout=seconds)
        return None
    seconds = bounded_rest(seconds)
    ends = time.time() + seconds
    cache.set(cooldown_key(key_id), ends, timeout=seconds)
    return datetime.fromtimestamp(ends, tz=UTC)


def next_call(key_id: int) -> int:
    counter = calls_key(key_id)
    cache.add(counter, 0, timeout=EVIDENCE_TTL)
    try:
        return cache.incr(counter)
    except ValueError:  # evicted between add and incr
        cache.set(counter, 1, timeout=EVIDENCE_TTL)
        return 1


def verdict_after_success(key_id: int) -> str:
    """Count a success of a key under suspicion: still suspect while a failure is among its last calls."""
    cache.delete(failures_key(key_id))  # a success ends a streak of failures
    number = next_call(key_id)
    until = cache.get(suspect_key(key_id))
    return Status.SUSPECT if until is not None and number < until else Status.ACTIVE


def weigh(vendor: VendorRoute, key: KeyRef, exc: errors.UpstreamError) -> Verdict | None:
    """The cache's side of a failure (rests, streaks, evidence) and the verdict it leads to; None when the
    failure says nothing about the key (a bad request, a content-policy refusal)."""
    why = f"{exc.code}: {exc.detail}"
    if exc.disables_key:
        cool(key.id, DISABLED_COOLDOWN, disabled=True)
        return Verdict(Status.AUTO_DISABLED, f"rejected at once ({why})")
    if exc.cools_key:
        asked = exc.retry_after
        until = cool(key.id, settings.KEY_RATE_LIMIT_COOLDOWN if asked is None else asked)
        return Verdict(Status.COOLING, f"rate limited ({why})", until)
    if not exc.counts_as_failure:
        return None
    return _weigh_failure(vendor, key, exc, why)


def _weigh_failure(vendor: VendorRoute, key: KeyRef, exc: errors.UpstreamError, why: str) -> Verdict:
    number, window = next_call(key.id), vendor.failure_window
    cache.set(suspect_key(key.id), number + window, timeout=EVIDENCE_TTL)
    recent = _remember_failure(key.id, exc.code, number, window)
    limit = vendor.failures_to_disable
    if limit is not None and recent >= limit and _another_key_is_fine(vendor, key, exc.code):
        cool(key.id, DISABLED_COOLDOWN, disabled=True)
        text = f"{recent} {exc.code} failures in its last {window} calls, while another key of the vendor served"
        return Verdict(Status.AUTO_DISABLED, f"{text}; last: {exc.detail}")
    streak = failures_key(key.id)
    cache.add(streak, 0, timeout=settings.KEY_FAILURE_COOLDOWN * 10)
    try:
        in_a_row = cache.incr(streak)
    except ValueError:
        in_a_row = 1
    if in_a_row >= settings.KEY_FAILURES_BEFORE_COOLDOWN:
        cache.delete(streak)
        until = cool(key.id, settings.KEY_FAILURE_COOLDOWN)
        return Verdict(Status.COOLING, f"{in_a_row} failures in a row ({why})", until)
    return Verdict(Status.SUSPECT, f"failed ({why})")


def _remember_failure(key_id: int, code: str, number: int, window: int) -> int:
    """Add call ``number`` to the key's failures of ``code``; how many of them are in its last ``window`` calls."""
    entry = evidence_key(key_id, code)
    recent = [seen for seen in cache.get(entry, []) if seen > number - window] + [number]
    cache.set(entry, recent[-window:], timeout=EVIDENCE_TTL)
    return len(recent)


def _another_key_is_fine(vendor: VendorRoute, key: KeyRef, code: str) -> bool:
    """Whether the vendor has another key in rotation, not disabled, with no failure of ``code`` in its window."""
    others = [other.id for other in vendor.keys if other.id != key.id]
    entries = cache.get_many(
        [name for other in others for name in (cooldown_key(other), calls_key(other), evidence_key(other, code))]
    )
    for other in others:
        if entries.get(cooldown_key(other)) == 0.0:
            continue  # disabled
        calls = entries.get(calls_key(other), 0)
        if not [seen for seen in entries.get(evidence_key(other, code), []) if seen > calls - vendor.failure_window]:
            return True
    return False
