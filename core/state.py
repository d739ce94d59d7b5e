"""What one process keeps in memory between requests, in one object with a lifecycle.

The shared HTTP clients, the configuration snapshots and the key loop's bookkeeping are all
per-process: each lives in a slot of the process's :class:`ProcessState`, made on first use from
its class. ``reset_process_state`` gives the process a fresh, empty state; the test suite calls it
around every test, so no test reaches into a module for a private global.

Nothing here decides a request on its own: what every worker must agree on (cooldowns, rotation)
lives in Django's cache. The one thing that is truly this process's own is its lifecycle: the
:class:`ShutdownClock` says whether the process is stopping and by when its work must be done.
"""

from __future__ import annotations

import asyncio
from typing import TypeVar

T = TypeVar("T")


class ProcessState:
    """Slots of per-process state, one per class: ``state.slot(HttpClients)`` is always the same object."""

    def __init__(self) -> None:
        self._slots: dict[type, object] = {}

    def slot(self, kind: type[T]) -> T:
        value = self._slots.get(kind)
        if value is None:
            value = self._slots[kind] = kind()
        return value  # type: ignore[return-value]


_current = ProcessState()


def process_state() -> ProcessState:
    return _current


def reset_process_state() -> ProcessState:
    """Start over with an empty state (tests; a forked worker would too)."""
    global _current
    _current = ProcessState()
    return _current


class ShutdownClock:
    """Whether this process is stopping, and by when (``time.monotonic()``) its work must be done.

    The server starts it (``imagegen.server``); work that must end in time waits on ``waiter()``.
    Both happen on the process's event loop.
    """

    def __init__(self) -> None:
        self.deadline: float | None = None
        self._waiters: set[asyncio.Future] = set()

    @property
    def stopping(self) -> bool:
        return self.deadline is not None

    def begin(self, deadline: float) -> None:
        self.deadline = deadline if self.deadline is None else min(self.deadline, deadline)
        for waiter in self._waiters:
            if not waiter.done():
                waiter.set_result(None)

    def waiter(self) -> asyncio.Future:
        """A future done when the shutdown begins; hand it back to ``forget`` when done with it."""
        waiter = asyncio.get_running_loop().create_future()
        if self.stopping:
            waiter.set_result(None)
        else:
            self._waiters.add(waiter)
        return waiter

    def forget(self, waiter: asyncio.Future) -> None:
        self._waiters.discard(waiter)
        waiter.cancel()
