"""Database work from async code without holding a thread per waiting request.

Django's default (``thread_sensitive=True``) gives every ASGI request a thread of its own for
ORM calls, kept for the whole request: hundreds of requests waiting on vendors would mean
hundreds of threads and database connections. ``run_db`` sends each short database step to the
event loop's shared executor instead, and hands PostgreSQL connections back to the pool after it.
On SQLite, which lets one writer in at a time, they go through one thread per process instead,
and that thread takes an flock shared by the gateway's processes first: waiting for SQLite's own
lock means sleeping in its busy handler in steps of up to 100 ms, which gave two workers
multi-second tails under load, while the kernel wakes an flock waiter the moment it is free.
"""

from __future__ import annotations

import asyncio
import collections
import contextvars
import fcntl
import os
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from functools import cache, partial, wraps
from typing import Any, Generic, ParamSpec, TypeVar

from django.conf import settings
from django.db import connection

from core.state import process_state

P = ParamSpec("P")
T = TypeVar("T")


def _release_after(fn: Callable[P, T]) -> Callable[P, T]:
    @wraps(fn)
    def wrapper(*args: P.args, **kwargs: P.kwargs) -> T:
        try:
            return fn(*args, **kwargs)
        finally:
            if connection.vendor == "postgresql" and not connection.in_atomic_block:
                connection.close()  # back to the pool; SQLite keeps its per-thread connection

    return wrapper


def _is_sqlite() -> bool:
    return settings.DATABASES["default"]["ENGINE"].endswith("sqlite3")


@cache
def _database_executor() -> ThreadPoolExecutor | None:
    if _is_sqlite():
        return ThreadPoolExecutor(max_workers=1, thread_name_prefix="sqlite")
    return None  # the loop's default executor


@cache
def _sqlite_lock() -> int:
    name = str(settings.DATABASES["default"]["NAME"])
    on_disk = name and not name.startswith("file:") and name != ":memory:"
    path = f"{name}.gateway-lock" if on_disk else str(settings.DATA_DIR / ".sqlite.gateway-lock")
    return os.open(path, os.O_RDWR | os.O_CREAT, 0o600)


def _one_process_at_a_time(fn: Callable[P, T]) -> Callable[P, T]:
    @wraps(fn)
    def wrapper(*args: P.args, **kwargs: P.kwargs) -> T:
        lock = _sqlite_lock()
        fcntl.flock(lock, fcntl.LOCK_EX)
        try:
            return fn(*args, **kwargs)
        finally:
            fcntl.flock(lock, fcntl.LOCK_UN)

    return wrapper


def _in_executor(executor: ThreadPoolExecutor | None, fn: Callable[..., T], *args, **kwargs) -> asyncio.Future[T]:
    """``fn`` on ``executor``, with the caller's context variables (the request id in log lines).

    What ``sync_to_async(thread_sensitive=False)`` does, without its per-call machinery (a wrapper
    object, thread-sensitivity bookkeeping, a second future): on the hot path that cost more CPU than
    the short database steps it carries."""
    context = contextvars.copy_context()
    return asyncio.get_running_loop().run_in_executor(executor, partial(context.run, fn, *args, **kwargs))


async def run_db(fn: Callable[P, T], *args: P.args, **kwargs: P.kwargs) -> T:
    step = _one_process_at_a_time(fn) if _is_sqlite() else _release_after(fn)
    return await _in_executor(_database_executor(), step, *args, **kwargs)


async def run_blocking(fn: Callable[P, T], *args: P.args, **kwargs: P.kwargs) -> T:
    """Other blocking calls (Django's cache, whose async methods are thread-sensitive) in the shared executor."""
    return await _in_executor(None, fn, *args, **kwargs)


# Caches whose calls never wait on a network: this machine's files (the embedded default) or memory.
LOCAL_CACHES = frozenset({"core.file_cache.SharedFileCache", "django.core.cache.backends.locmem.LocMemCache"})


def cache_is_local() -> bool:
    return settings.CACHES["default"]["BACKEND"] in LOCAL_CACHES


async def run_cache(fn: Callable[P, T], *args: P.args, **kwargs: P.kwargs) -> T:
    """Work on Django's cache (``fn`` calls it): in the event loop when the cache is local, else in the
    shared executor. A local call costs 15-70 µs of CPU (a SQLite read or write of the file cache); sending
    it to a thread cost 65 µs more for the hop alone, 150-275 µs in all, measured on one core. A Redis call
    waits on the network, and a Redis that stops answering must not stop the loop: it keeps its thread."""
    if cache_is_local():
        return fn(*args, **kwargs)
    return await run_blocking(fn, *args, **kwargs)


@dataclass
class SnapshotValues:
    """This process's built snapshot values: snapshot -> (value, monotonic time it was built); the builds
    under way, and how many times each snapshot was invalidated (a build begun before a change is not kept)."""

    values: dict[Snapshot[Any], tuple[Any, float]] = field(default_factory=dict)
    building: dict[Snapshot[Any], asyncio.Future] = field(default_factory=dict)
    changes: collections.Counter[Snapshot[Any]] = field(default_factory=collections.Counter)


class Snapshot(Generic[T]):
    """A value built from the database, kept in this process's memory for ROUTING_CACHE_SECONDS.

    The request path reads routing tables, client keys and optimizer settings from snapshots,
    so it costs no query. ``invalidate`` (called by signals when the rows change) drops the
    value at once in this process; other workers see the change within the TTL. The values live
    in the process state (``core.state``), so resetting that drops every snapshot.

    One build at a time: the requests that find the value out of date while it is being built wait for
    that build. Each used to start its own, and a worker holding a thousand requests when the time
    was up queued hundreds of identical builds on the database thread (0.8 s of CPU in bench (b)).
    """

    def __init__(self, build: Callable[[], T]):
        self._build = build

    def _state(self) -> SnapshotValues:
        return process_state().slot(SnapshotValues)

    async def get(self) -> T:
        state = self._state()
        held = state.values.get(self)
        if held is not None and time.monotonic() - held[1] <= settings.ROUTING_CACHE_SECONDS:
            return held[0]
        building = state.building.get(self)
        if building is None or building.get_loop() is not asyncio.get_running_loop():
            building = state.building[self] = asyncio.ensure_future(self._rebuild(state))
        # Shielded: a request that leaves does not stop the build the others wait for.
        return await asyncio.shield(building)

    async def _rebuild(self, state: SnapshotValues) -> T:
        changes = state.changes[self]
        try:
            value = await run_db(self._build)
        finally:
            if state.building.get(self) is asyncio.current_task():  # not a later build's, after an invalidate
                del state.building[self]
        if state.changes[self] == changes:  # else the rows changed while it was read: the next get builds
            state.values[self] = (value, time.monotonic())
        return value

    def invalidate(self) -> None:
        state = self._state()
        state.values.pop(self, None)
        state.building.pop(self, None)
        state.changes[self] += 1
