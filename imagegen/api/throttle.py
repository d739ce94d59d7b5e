"""Throttling wrong and missing client keys per client address, through the shared cache.

After CLIENT_AUTH_FAILURE_LIMIT failed attempts from one address in a window of
CLIENT_AUTH_FAILURE_WINDOW seconds, that address is answered 429 until the window ends, for every
key except those that have already worked from it. So a second, misconfigured app on the same host
does not lock out the first, and an address being throttled learns nothing about the keys it
tries: a valid key it has not used before is refused like a wrong one, after the same cache work.

The address is ``REMOTE_ADDR`` (the server sets it; forwarded headers count only from the proxies
it trusts), an IPv6 address counted with its /64. Windows are fixed clock windows, so
``Retry-After`` is the time to the window's end. A key that worked from an address is remembered
there for a day; this process notes when it last wrote that down, so a working key costs no cache
round trip (no thread hop) on most requests.
"""

from __future__ import annotations

import ipaddress
import math
import time
from dataclasses import dataclass, field

from django.conf import settings
from django.core.cache import cache

from core.state import process_state

WORKED_REMEMBERED_FOR = 24 * 3600.0
# How often one process re-writes the "worked here" note of a key it keeps seeing.
WORKED_NOTED_EVERY = 600.0
WORKED_NOTES_KEPT = 10_000


@dataclass
class WorkedNotes:
    """This process's notes: (address, key hash) -> monotonic time it last wrote "worked here"."""

    written: dict[tuple[str, str], float] = field(default_factory=dict)


def _notes() -> dict[tuple[str, str], float]:
    return process_state().slot(WorkedNotes).written


def client_address(request) -> str:
    address = request.META.get("REMOTE_ADDR") or ""
    try:
        ip = ipaddress.ip_address(address)
    except ValueError:
        return address
    if ip.version == 4:
        return address
    if ip.ipv4_mapped is not None:
        return str(ip.ipv4_mapped)
    return str(ipaddress.ip_network(f"{ip}/64", strict=False))  # one IPv6 host may hold a whole /64


def worked_lately(address: str, key_hash: str) -> bool:
    """Whether this process noted the key working from the address in the last WORKED_NOTED_EVERY seconds."""
    written = _notes().get((address, key_hash))
    return written is not None and time.monotonic() - written < WORKED_NOTED_EVERY


def _window() -> tuple[int, int]:
    """The current window's number, and whole seconds until it ends (at least 1)."""
    size = settings.CLIENT_AUTH_FAILURE_WINDOW
    now = time.time()
    number = int(now // size)
    return number, max(1, math.ceil((number + 1) * size - now))


def _count_failure(key: str, lifetime: int) -> int:
    cache.add(key, 0, timeout=lifetime)
    try:
        return cache.incr(key)
    except ValueError:  # expired between add and incr
        cache.set(key, 1, timeout=lifetime)
        return 1


def judge(address: str, key_hash: str, valid: bool) -> int | None:
    """Blocking (cache). None: let the caller in; 0: refuse it as today (401); else refuse it with 429
    and this many seconds of ``Retry-After``. ``key_hash`` is "" when the request had no key."""
    window, left = _window()
    failures = f"clientauth:{address}:{window}:failures"
    worked = f"clientauth:{address}:{key_hash}:worked"
    seen = cache.get_many([failures, worked] if key_hash else [failures])
    throttled = seen.get(failures, 0) >= settings.CLIENT_AUTH_FAILURE_LIMIT
    if valid and (not throttled or worked in seen):
        cache.set(worked, 1, timeout=WORKED_REMEMBERED_FOR)
        notes = _notes()
        if len(notes) >= WORKED_NOTES_KEPT:
            notes.clear()
        notes[(address, key_hash)] = time.monotonic()
        return None
    count = _count_failure(failures, lifetime=left + 1)
    return left if count > settings.CLIENT_AUTH_FAILURE_LIMIT else 0
