"""Alerts: raised anywhere without waiting, deduplicated and rate-limited across workers, listed and sent.

:func:`raise_alert` hands an alert to this process's :class:`Courier`, a thread with an event loop of
its own, and returns at once: a generation never waits on the webhook, the database or the cache for
an alert, and an alert raised by a request outlives the request. In the courier, an alert

1. is dropped if the same one (its ``dedup`` key) was raised within ALERT_DEDUP_SECONDS by any worker
   (an ``add`` in the shared cache);
2. counts toward ALERT_MAX_PER_HOUR (a counter per clock hour in the shared cache); past it, it is
   recorded but not sent;
3. is POSTed to ALERT_WEBHOOK_URL as JSON with a Slack-compatible ``text`` through the shared HTTP
   client (``core.http``), and recorded as an ``Alert`` row with whether it was delivered or why not.

Alert texts name vendors, key labels, models and client key names, never a secret, URL or host; an
error from the webhook is recorded by its type or status alone (the URL is a secret too).
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import hashlib
import logging
import threading
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field

import httpx
from django.conf import settings
from django.core.cache import cache

from core.db import run_cache, run_db
from core.http import close_client, get_client
from core.state import process_state
from imagegen.alert_record import Alert

log = logging.getLogger(__name__)

# Alerts (and checks) waiting in one process; past it they are dropped with a log line.
MAX_PENDING = 200


@dataclass(frozen=True)
class Draft:
    kind: str  # an Alert.Kind
    subject: str
    text: str
    dedup: str  # the same dedup key is raised once per ALERT_DEDUP_SECONDS (or dedup_seconds)
    dedup_seconds: int | None = None

    @property
    def quiet_for(self) -> int:
        return self.dedup_seconds or settings.ALERT_DEDUP_SECONDS


@dataclass
class Courier:
    """This process's alert thread: its event loop, the work queued on it, what it raised lately."""

    loop: asyncio.AbstractEventLoop | None = None
    thread: threading.Thread | None = None
    pending: set[concurrent.futures.Future] = field(default_factory=set)
    recent: dict[str, float] = field(default_factory=dict)  # dedup key -> monotonic time its quiet ends
    lock: threading.Lock = field(default_factory=threading.Lock)

    def submit(self, work: Callable[[], Awaitable[None]]) -> None:
        """Run ``work()`` on the courier's loop; never waits for it."""
        with self.lock:
            if len(self.pending) >= MAX_PENDING:
                log.warning("alerts: %d already waiting; one dropped", len(self.pending))
                return
            if self.loop is None:
                self.loop = asyncio.new_event_loop()
                self.thread = threading.Thread(target=self.loop.run_forever, name="alerts", daemon=True)
                self.thread.start()
            future = asyncio.run_coroutine_threadsafe(_logged(work), self.loop)
            self.pending.add(future)
        future.add_done_callback(self._done)

    def _done(self, future: concurrent.futures.Future) -> None:
        with self.lock:
            self.pending.discard(future)

    def seen_lately(self, draft: Draft) -> bool:
        """Whether this process raised ``draft`` within its window (then there is no need to ask the cache)."""
        now = time.monotonic()
        with self.lock:
            if now < self.recent.get(draft.dedup, now):
                return True
            if len(self.recent) > 10_000:
                self.recent.clear()
            self.recent[draft.dedup] = now + draft.quiet_for
        return False

    def wait_idle(self, timeout: float = 5.0) -> bool:
        """Wait until nothing is queued (tests, a command about to exit); whether it got there in time."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            with self.lock:
                pending = list(self.pending)
            if not pending:
                return True
            concurrent.futures.wait(pending, timeout=max(deadline - time.monotonic(), 0))
        return False

    def close(self, timeout: float = 5.0) -> None:
        """Finish what is queued (within ``timeout``), close the HTTP client, end the thread (a process about
        to exit, a test). Alerts raised later start it again."""
        self.wait_idle(timeout)
        with self.lock:
            loop, thread, self.loop, self.thread = self.loop, self.thread, None, None
        if loop is None:
            return
        asyncio.run_coroutine_threadsafe(close_client(), loop).result(timeout)
        loop.call_soon_threadsafe(loop.stop)
        thread.join(timeout)
        loop.close()


def courier() -> Courier:
    return process_state().slot(Courier)


async def _logged(work: Callable[[], Awaitable[None]]) -> None:
    try:
        await work()
    except Exception as exc:  # an alert that fails must say so in the log, and nothing else
        log.warning("alerts: %s while raising an alert", type(exc).__name__)


def raise_alert(draft: Draft) -> None:
    """Queue ``draft`` to be deduplicated, recorded and sent; returns at once."""
    if courier().seen_lately(draft):
        return
    courier().submit(lambda: deliver(draft))


def run_check(check: Callable[[], Awaitable[None]]) -> None:
    """Run a check that may raise alerts (it queries the database) on the courier; returns at once."""
    courier().submit(check)


async def deliver(draft: Draft) -> None:
    digest = hashlib.sha256(draft.dedup.encode()).hexdigest()[:32]
    if not await run_cache(cache.add, f"alert:seen:{digest}", 1, timeout=draft.quiet_for):
        return  # raised by another worker (or this one, before a restart) within the window
    error = ""
    if not settings.ALERT_WEBHOOK_URL:
        error = "not sent: ALERT_WEBHOOK_URL is not set"
    elif not await run_cache(_within_hourly_limit):
        error = f"not sent: more than ALERT_MAX_PER_HOUR ({settings.ALERT_MAX_PER_HOUR}) alerts this hour"
    else:
        error = await _post(draft)
    await run_db(
        Alert.objects.create,
        kind=draft.kind,
        subject=draft.subject[:200],
        text=draft.text,
        delivered=not error,
        error=error[:300],
    )
    if error and not error.startswith("not sent"):
        log.warning("alert %s (%s) was not delivered: %s", draft.kind, draft.subject, error)


def _within_hourly_limit() -> bool:
    counter = f"alert:sent:{int(time.time() // 3600)}"
    cache.add(counter, 0, timeout=3700)
    try:
        count = cache.incr(counter)
    except ValueError:  # evicted between add and incr
        cache.set(counter, 1, timeout=3700)
        count = 1
    return count <= settings.ALERT_MAX_PER_HOUR


async def _post(draft: Draft) -> str:
    """POST the alert; "" when the webhook took it, else why not (never the URL)."""
    body = {"text": draft.text, "kind": draft.kind, "subject": draft.subject}
    try:
        response = await get_client().post(
            settings.ALERT_WEBHOOK_URL, json=body, timeout=settings.ALERT_WEBHOOK_TIMEOUT, follow_redirects=False
        )
    except httpx.HTTPError as exc:
        return f"the webhook could not be reached ({type(exc).__name__})"
    if not response.is_success:
        return f"the webhook answered HTTP {response.status_code}"
    return ""
