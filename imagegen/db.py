"""Database work from async code without holding a thread per waiting request.

Django's default (``thread_sensitive=True``) gives every ASGI request a thread of its own for
ORM calls, kept for the whole request: hundreds of requests waiting on vendors would mean
hundreds of threads and database connections. ``run_db`` sends each short database step to the
event loop's shared executor instead, and hands PostgreSQL connections back to the pool after it.
On SQLite, which lets one writer in at a time, they go through one thread per process instead:
parallel threads would only queue on its write lock, sleeping in its busy handler.
"""

from __future__ import annotations

from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from functools import cache, wraps
from typing import ParamSpec, TypeVar

from asgiref.sync import sync_to_async
from django.conf import settings
from django.db import connection

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


@cache
def _database_executor() -> ThreadPoolExecutor | None:
    if settings.DATABASES["default"]["ENGINE"].endswith("sqlite3"):
        return ThreadPoolExecutor(max_workers=1, thread_name_prefix="sqlite")
    return None  # the loop's default executor


async def run_db(fn: Callable[P, T], *args: P.args, **kwargs: P.kwargs) -> T:
    run = sync_to_async(_release_after(fn), thread_sensitive=False, executor=_database_executor())
    return await run(*args, **kwargs)


async def run_blocking(fn: Callable[P, T], *args: P.args, **kwargs: P.kwargs) -> T:
    """Other blocking calls (Django's cache, whose async methods are thread-sensitive) in the shared executor."""
    return await sync_to_async(fn, thread_sensitive=False)(*args, **kwargs)
