"""One instance migrates at a time: a lock every instance sharing the database can see.

Several containers started together would otherwise each plan the same migrations and race to create
the same tables (one fails with "already exists" and the container restarts, or worse, a data migration
runs twice). On PostgreSQL the lock is a session advisory lock on a fixed id, held by the connection
that migrates: it is released when the process ends, even if it is killed. On SQLite, whose instances
share one machine, it is an ``flock`` on ``DATA_DIR/migrate.lock``.
"""

from __future__ import annotations

import fcntl
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager

from django.conf import settings
from django.db import connection

# Any fixed 64-bit number works; every instance must use the same one. (The bytes of "imagegen" as an integer.)
ADVISORY_LOCK_ID = int.from_bytes(b"imagegen", "big") & 0x7FFF_FFFF_FFFF_FFFF
POLL_SECONDS = 0.5
LOCK_FILE_NAME = "migrate.lock"


class LockTimeout(Exception):
    """Another instance held the migration lock for longer than the caller would wait."""


@contextmanager
def migration_lock(wait_seconds: float, on_wait: Callable[[], None]) -> Iterator[None]:
    """Hold the migration lock of ``connection``'s database; ``on_wait`` is called once if it is taken."""
    if connection.vendor == "postgresql":
        _wait_for(_advisory_lock, wait_seconds, on_wait)
        try:
            yield
        finally:
            _advisory_unlock()
    elif connection.vendor == "sqlite":
        with open(settings.DATA_DIR / LOCK_FILE_NAME, "a+b") as lock_file:  # closing it releases the flock
            _wait_for(lambda: _flock(lock_file), wait_seconds, on_wait)
            yield
    else:
        raise NotImplementedError(f"no migration lock for {connection.vendor}")


def _wait_for(take: Callable[[], bool], wait_seconds: float, on_wait: Callable[[], None]) -> None:
    # Polling with a try-lock, not a blocking call: a blocking pg_advisory_lock would be cut by
    # DATABASE_STATEMENT_TIMEOUT, and a bounded wait lets a stuck holder fail the start with a message.
    deadline = time.monotonic() + wait_seconds
    if take():
        return
    on_wait()
    while time.monotonic() < deadline:
        time.sleep(POLL_SECONDS)
        if take():
            return
    raise LockTimeout(f"another instance held the migration lock for more than {wait_seconds:g} s")


def _advisory_lock() -> bool:
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_try_advisory_lock(%s)", [ADVISORY_LOCK_ID])
        return bool(cursor.fetchone()[0])


def _advisory_unlock() -> None:
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_advisory_unlock(%s)", [ADVISORY_LOCK_ID])


def _flock(lock_file) -> bool:
    try:
        fcntl.flock(lock_file, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        return False
    return True
