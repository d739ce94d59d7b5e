"""The gunicorn worker that serves the gateway: uvicorn, with the shutdown and the bounds the gateway needs.

What stock ``uvicorn.workers.UvicornWorker`` does on SIGTERM (gunicorn 27, uvicorn 0.54): the master
closes its listening sockets, sends SIGTERM to each worker and SIGKILLs whatever still runs
``graceful_timeout`` seconds later. In the worker, uvicorn's ``Server.shutdown`` closes its listeners
(new connections are refused), closes idle keep-alive connections, marks busy ones to close after
their response, then waits for every connection to end with no limit of its own
(``timeout_graceful_shutdown`` is unset). A generation still running at the master's deadline is
killed with the process: no answer, no error event ending a stream, no ledger row. And the worker
stops telling the master it is alive during the wait, so a worker that gunicorn replaces while it
keeps running (HUP, max requests) is aborted after ``--timeout``.

``GatewayWorker`` keeps the rest and changes that: the shutdown starts the process's
``ShutdownClock`` with a deadline a few seconds before the master's, at which the pipeline cuts
what still runs with an answer (``imagegen.shutdown``); uvicorn cancels any straggler just before
the kill; and the worker keeps notifying the master while it drains. It also serves through
:class:`~imagegen.connections.BoundedHttpProtocol` (header size and read times, connections per
worker), trusts ``X-Forwarded-*`` only from ``FORWARDED_ALLOW_IPS`` (uvicorn trusts 127.0.0.1 by
default), and, as it boots, marks the ledger rows of dead workers interrupted (``imagegen.recovery``).
"""

from __future__ import annotations

import asyncio
import gc
import logging
import resource
import socket
import sys
import time
import warnings

from django.conf import settings
from django.db import connections
from gunicorn.arbiter import Arbiter
from uvicorn.config import Config
from uvicorn.server import Server

from imagegen.connections import BoundedHttpProtocol
from imagegen.shutdown import drain_left_running, shutdown_clock

with warnings.catch_warnings():  # it suggests the uvicorn-worker package; this one is uvicorn's own
    warnings.simplefilter("ignore", DeprecationWarning)
    from uvicorn.workers import UvicornWorker

log = logging.getLogger(__name__)


# Container allocations between two collections of the youngest generation (CPython's default: 700).
# A worker holding a thousand requests keeps a million objects alive, most of them only for the request's
# seconds, and at 700 the collector walked them again and again: 15% of the CPU of (b) in bench/README.md.
# At 10,000: 14% less CPU and an 18% shorter tail there, 4% less CPU at 16 at once, and no higher peak.
GC_YOUNG_THRESHOLD = 10_000


def wrap_up_seconds(grace: float) -> float:
    """How long before the master's kill the pipeline cuts what still runs: time to answer and record it."""
    return min(5.0, grace / 4)


class GatewayServer(Server):
    def __init__(self, config: Config, grace: float):
        super().__init__(config)
        self.grace = grace

    async def shutdown(self, sockets: list[socket.socket] | None = None) -> None:
        shutdown_clock().begin(time.monotonic() + self.grace - wrap_up_seconds(self.grace))
        alive = asyncio.ensure_future(self._keep_notifying())
        try:
            await super().shutdown(sockets)
            await drain_left_running()  # requests with an Idempotency-Key whose client left
        finally:
            alive.cancel()

    async def _keep_notifying(self) -> None:
        """The master aborts a worker that is silent for --timeout, draining or not."""
        while self.config.callback_notify is not None:
            await self.config.callback_notify()
            await asyncio.sleep(1.0)


class GatewayWorker(UvicornWorker):
    @property
    def CONFIG_KWARGS(self) -> dict:  # noqa: N802  (UvicornWorker's name; read once, by its __init__)
        grace = float(self.cfg.graceful_timeout)
        return {
            "loop": "auto",
            "http": BoundedHttpProtocol,
            "limit_concurrency": None,  # BoundedHttpProtocol answers it in OpenAI's shape instead
            "timeout_keep_alive": settings.KEEPALIVE_TIMEOUT,
            "timeout_graceful_shutdown": max(grace - 1.0, 0.5),  # a second left to exit before the kill
            "h11_max_incomplete_event_size": settings.MAX_HEADER_BYTES,  # were the h11 protocol used
            "proxy_headers": bool(settings.FORWARDED_ALLOW_IPS),
            "forwarded_allow_ips": list(settings.FORWARDED_ALLOW_IPS),
        }

    def run(self) -> None:
        _raise_open_file_limit(settings.MAX_CONNECTIONS_PER_WORKER)
        _recover_abandoned_rows()
        gc.set_threshold(GC_YOUNG_THRESHOLD, *gc.get_threshold()[1:])
        super().run()

    async def _serve(self) -> None:
        self.config.app = self.wsgi
        server = GatewayServer(config=self.config, grace=float(self.cfg.graceful_timeout))
        self._install_sigquit_handler()
        _warm_up()
        await server.serve(sockets=self.sockets)
        if not server.started:
            sys.exit(Arbiter.WORKER_BOOT_ERROR)


def _warm_up() -> None:
    """What the first requests would otherwise build in the event loop while others wait: the upstream
    client (its TLS context, aiohttp's modules) and the adapters' modules. A worker that got none of the
    traffic before a burst of 1,000 spent 0.3 s on them mid-burst. Imported here: gunicorn's master
    imports this module for the worker class, and has no use for them (5 MiB)."""
    from core.http import get_client
    from vendors.adapters import adapters

    get_client()
    adapters()


def _raise_open_file_limit(connections_per_worker: int) -> None:
    """A connection holds two descriptors (the client's, the vendor's): lift the soft limit toward that."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    wanted = 2 * connections_per_worker + 256
    if soft == resource.RLIM_INFINITY or soft >= wanted:
        return
    resource.setrlimit(resource.RLIMIT_NOFILE, (wanted if hard == resource.RLIM_INFINITY else min(wanted, hard), hard))


def _recover_abandoned_rows() -> None:
    """Before serving (no event loop yet, so the ORM may be called directly); never stops the boot."""
    from imagegen.recovery import recover_abandoned  # it needs the app registry: gunicorn's master has none

    try:
        recovered = recover_abandoned()
    except Exception:
        log.warning("could not look for ledger rows that dead workers left pending", exc_info=True)
        return
    finally:
        connections.close_all()
    if recovered:
        log.warning("marked %d ledger row(s) that dead workers left pending as interrupted", recovered)
