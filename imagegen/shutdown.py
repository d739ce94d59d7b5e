"""Work that must end before the process does: generations run to the shutdown deadline, not past it.

While the process serves, a generation runs as long as it needs. Once a shutdown begins
(``imagegen.server`` starts the :class:`~core.state.ShutdownClock`), it may go on until the deadline,
a few seconds before gunicorn kills the worker; one still running then is cancelled (its vendor call
dropped, polling vendors told) and ends in :class:`ServerShuttingDown`: a 503 for a plain request, the
error event and ``[DONE]`` for a stream, ``interrupted`` in the ledger. Cutting it here, rather than
letting the kill do it, is what lets the client and the ledger hear about it.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Coroutine
from dataclasses import dataclass, field
from typing import Any, TypeVar

from core.errors import GatewayError
from core.state import ShutdownClock, process_state

T = TypeVar("T")


class ServerShuttingDown(GatewayError):
    status, code, error_type = 503, "server_shutting_down", "server_error"

    def __init__(self) -> None:
        super().__init__(
            "The gateway is shutting down and could not finish this generation in time; it was stopped and "
            "not stored. Retry the request.",
            headers={"Retry-After": "1"},
        )


def shutdown_clock() -> ShutdownClock:
    return process_state().slot(ShutdownClock)


async def before_shutdown_deadline(work: Coroutine[Any, Any, T]) -> T:
    """The result of ``work``, or ServerShuttingDown when a shutdown's deadline comes first."""
    clock = shutdown_clock()
    task = asyncio.ensure_future(work)
    try:
        if not clock.stopping:
            stop = clock.waiter()
            try:
                await asyncio.wait({task, stop}, return_when=asyncio.FIRST_COMPLETED)
            finally:
                clock.forget(stop)
        if not task.done():
            await asyncio.wait({task}, timeout=max(clock.deadline - time.monotonic(), 0.0))
        if task.done():
            return task.result()
        raise ServerShuttingDown()
    finally:
        if not task.done():  # the deadline, or the caller was cancelled (the client left): stop the work
            task.cancel()
            await asyncio.gather(task, return_exceptions=True)


# --- Work whose client left ----------------------------------------------------------------------
# A request with an Idempotency-Key goes on when its client leaves, so that the retry gets its answer;
# nothing awaits it any more, so it is held here, and a shutdown waits for it like for a request.
AFTER_DEADLINE = 2.0  # seconds such work has after the deadline to record how it ended


@dataclass
class LeftRunning:
    tasks: set[asyncio.Task] = field(default_factory=set)


def keep_running(task: asyncio.Task) -> None:
    """Hold ``task`` until it is done (the loop keeps only weak references to tasks)."""
    running = process_state().slot(LeftRunning).tasks
    running.add(task)

    def forget(done: asyncio.Task) -> None:
        running.discard(done)
        if not done.cancelled():
            done.exception()  # heard by the client if it stayed; else the ledger and the record keep it

    task.add_done_callback(forget)


async def drain_left_running() -> None:
    """Wait for the held work: it ends by the shutdown's deadline (``before_shutdown_deadline``), then records."""
    running = process_state().slot(LeftRunning).tasks
    if running:
        deadline = shutdown_clock().deadline
        left = None if deadline is None else max(deadline - time.monotonic(), 0.0) + AFTER_DEADLINE
        await asyncio.wait(set(running), timeout=left)
