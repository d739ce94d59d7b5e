"""What one process keeps in memory between requests, in one object with a lifecycle.

The shared HTTP clients, the configuration snapshots and the key loop's bookkeeping are all
per-process: each lives in a slot of the process's :class:`ProcessState`, made on first use from
its class. ``reset_process_state`` gives the process a fresh, empty state; the test suite calls it
around every test, so no test reaches into a module for a private global.

Nothing here decides a request on its own: what every worker must agree on (cooldowns, rotation)
lives in Django's cache.
"""

from __future__ import annotations

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
