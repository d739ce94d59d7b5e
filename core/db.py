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
    """This process's built snapshot values: snapshot -> (value, monotonic time it was built)."""

    values: dict[Snapshot[Any], tuple[Any, float]] = field(default_factory=dict)


class Snapshot(Generic[T]):
    """A value built from the database, kept in this process's memory for ROUTING_CACHE_SECONDS.

    The request path reads routing tables, client keys and optimizer settings from snapshots,
    so it costs no query. ``invalidate`` (called by signals when the rows change) drops the
    value at once in this process; other workers see the change within the TTL. The values live
    in the process state (``core.state``), so resetting that drops every snapshot.
    """

    def __init__(self, build: Callable[[], T]):
        self._build = build

    def _values(self) -> dict[Snapshot[Any], tuple[Any, float]]:
        return process_state().slot(SnapshotValues).values

    async def get(self) -> T:
        values = self._values()
        held = values.get(self)
        if held is None or time.monotonic() - held[1] > settings.ROUTING_CACHE_SECONDS:
            held = values[self] = (await run_db(self._build), time.monotonic())
        return held[0]

    def invalidate(self) -> None:
        self._values().pop(self, None)
