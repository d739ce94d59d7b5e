"""Do the database, the cache and image storage answer? Each is asked within DEPENDENCY_CHECK_TIMEOUT.

Two callers: every API request asks the database and the cache before anything else (a dependency
that is down means a 503 at once, never a vendor paid for a request that then fails), and
``/health`` asks all three and says which failed.

Each dependency is asked on a daemon thread of its own, not through ``sync_to_async``: asgiref
waits for its thread even when the caller gives up, and a frozen PostgreSQL never answers. Here
the caller stops waiting after the bound; a frozen dependency holds one thread per worker (later
questions queue behind it and time out too) and cannot slow the checks of the others.
"""

from __future__ import annotations

import asyncio
import logging
import queue
import secrets
import threading
from collections.abc import Callable
from concurrent.futures import Future
from functools import cache

from django.conf import settings
from django.core.cache import cache as django_cache
from django.core.files.base import ContentFile
from django.core.files.storage import default_storage
from django.db import connection
from psycopg_pool import PoolTimeout
from redis import exceptions as redis_errors

from core.db import cache_is_local
from core.state import process_state
from imagegen.api.errors import ServiceUnavailable
from proxy.object_store import storage_writes

log = logging.getLogger(__name__)

OK, UNREACHABLE, TIMEOUT = "ok", "unreachable", "timeout"
# No answer in time: the check's own bound, Redis's socket timeouts, and waiting on the PostgreSQL
# pool (which Django re-raises as an OperationalError caused by it).
TIMED_OUT = (TimeoutError, redis_errors.TimeoutError, PoolTimeout)
# This process's own key and file names, so workers and instances sharing a cache or a bucket
# never read each other's probe.
_PROBE_ID = secrets.token_hex(8)


class _AskingThread:
    """One daemon thread that runs the questions for one dependency, in order."""

    def __init__(self, name: str):
        self._questions: queue.SimpleQueue = queue.SimpleQueue()
        threading.Thread(target=self._answer, name=f"check-{name}", daemon=True).start()

    def ask(self, question: Callable[[], object]) -> Future:
        future: Future = Future()
        self._questions.put((question, future))
        return future

    def _answer(self) -> None:
        while True:
            question, future = self._questions.get()
            if not future.set_running_or_notify_cancel():
                continue  # the caller gave up before its turn came
            try:
                future.set_result(question())
            except BaseException as exc:
                future.set_exception(exc)


@cache
def _thread(dependency: str) -> _AskingThread:
    return _AskingThread(dependency)


def database_answers() -> None:
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
            cursor.fetchone()
    finally:
        if connection.vendor == "postgresql":
            connection.close()  # back to the pool, like every other database step


def cache_answers() -> None:
    django_cache.get(f"health:{_PROBE_ID}")


def cache_stores() -> None:
    key, value = f"health:{_PROBE_ID}", secrets.token_hex(4)
    django_cache.set(key, value, timeout=60)
    if django_cache.get(key) != value:
        raise OSError("the cache did not keep a value")


def storage_stores() -> None:
    """Write, read back and delete a two-byte file where images go: proves the disk (or bucket) takes images."""
    name = default_storage.save(f"health/{_PROBE_ID}.probe", ContentFile(b"ok"))
    try:
        with default_storage.open(name, "rb") as handle:
            if handle.read() != b"ok":
                raise OSError("image storage did not keep a file")
    finally:
        default_storage.delete(name)


def settle(timeout: float = 5.0) -> None:
    """Block until every dependency's thread has answered all it was asked (tests; a clean shutdown)."""
    for dependency in ("database", "cache", "storage"):
        _thread(dependency).ask(lambda: None).result(timeout)


async def check(dependency: str, question: Callable[[], object]) -> str:
    """``ok``, ``timeout`` (no answer within DEPENDENCY_CHECK_TIMEOUT, or the dependency's own timeout)
    or ``unreachable`` (any other failure: refused, reset, an error answer)."""
    answer = asyncio.wrap_future(_thread(dependency).ask(question))
    try:
        await asyncio.wait_for(answer, settings.DEPENDENCY_CHECK_TIMEOUT)
    except Exception as exc:
        state = TIMEOUT if isinstance(exc, TIMED_OUT) or isinstance(exc.__cause__, TIMED_OUT) else UNREACHABLE
        log.error("%s check: %s (%s)", dependency, state, type(exc).__name__)
        return state
    return OK


class _RunningPreflight:
    """This process's database and cache check in progress, if any."""

    check: asyncio.Future | None = None
    loop: asyncio.AbstractEventLoop | None = None  # a check belongs to its event loop (tests run several)


async def _database_and_cache() -> tuple[str, str]:
    """The two states. Requests that arrive while a check is running share it rather than each paying two
    thread round trips (a burst of hundreds costs a handful of checks); a request shares only a check
    still running when it arrives, never an answer already given."""
    running = process_state().slot(_RunningPreflight)
    loop = asyncio.get_running_loop()
    if running.check is None or running.check.done() or running.loop is not loop:
        running.loop = loop
        cache_check = _local_cache_check() if cache_is_local() else check("cache", cache_answers)
        running.check = asyncio.ensure_future(asyncio.gather(check("database", database_answers), cache_check))
    return tuple(await asyncio.shield(running.check))


async def _local_cache_check() -> str:
    """The cache on this machine's files or in memory: asked in the loop (no network to wait on)."""
    try:
        cache_answers()
    except Exception as exc:
        log.error("cache check: unreachable (%s)", type(exc).__name__)
        return UNREACHABLE
    return OK


async def preflight() -> None:
    """Raise ``ServiceUnavailable`` unless the database and the cache both answer in time, and image storage
    too while this process's last image write failed (else it is not asked: a round trip per request)."""
    database, cache_state = await _database_and_cache()
    if database != OK:
        raise ServiceUnavailable("database")
    if cache_state != OK:
        raise ServiceUnavailable("cache")
    writes = storage_writes()
    if writes.failing:
        if await check("storage", storage_stores) != OK:
            raise ServiceUnavailable("image storage")
        writes.failing = False


async def health() -> dict[str, str]:
    """Each dependency's state, asked at the same time."""
    states = await asyncio.gather(
        check("database", database_answers), check("cache", cache_stores), check("storage", storage_stores)
    )
    return dict(zip(("database", "cache", "storage"), states, strict=True))
