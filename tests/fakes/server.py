"""A real HTTP server on 127.0.0.1 for tests: an aiohttp app on a free port in its own thread.

Fake vendors subclass ``FakeServer``, add routes in ``setup_routes`` and expose knobs the test
turns (status to answer, latency, per-key behaviour). ``requests`` records what arrived; ``faults``
(``tests.fakes.faults``) makes the next request(s) answer with a fault instead.
"""

from __future__ import annotations

import asyncio
import io
import threading
from dataclasses import dataclass, field

from aiohttp import web
from PIL import Image

from tests.fakes.faults import FaultPlan, site_of


def png_bytes(width: int = 64, height: int = 64, color: tuple[int, int, int] = (200, 30, 30)) -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", (width, height), color).save(buffer, format="PNG")
    return buffer.getvalue()


def jpeg_bytes(width: int = 64, height: int = 64, color: tuple[int, int, int] = (30, 30, 200)) -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", (width, height), color).save(buffer, format="JPEG")
    return buffer.getvalue()


@dataclass
class RecordedRequest:
    method: str
    path: str
    headers: dict[str, str]
    body: bytes
    json: object = None
    query: dict[str, str] = field(default_factory=dict)


class FakeServer:
    def __init__(self) -> None:
        self.requests: list[RecordedRequest] = []
        self.faults = FaultPlan()  # answers that stand in for the normal ones (tests.fakes.faults)
        self.port: int | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._runner: web.AppRunner | None = None
        self._thread: threading.Thread | None = None

    # --- to override -------------------------------------------------------------------------
    def setup_routes(self, app: web.Application) -> None:
        raise NotImplementedError

    # --- lifecycle ---------------------------------------------------------------------------
    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> FakeServer:
        ready = threading.Event()
        self._thread = threading.Thread(target=self._serve, args=(ready,), daemon=True, name=type(self).__name__)
        self._thread.start()
        if not ready.wait(10):
            raise RuntimeError("fake server did not start")
        return self

    def stop(self) -> None:
        if self._loop is None:
            return
        future = asyncio.run_coroutine_threadsafe(self._shutdown(), self._loop)
        future.result(10)
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(10)
        self._loop = None

    async def _shutdown(self) -> None:
        await self._runner.cleanup()
        # Handlers still sleeping (slow-vendor knobs) would be destroyed pending: end them.
        leftovers = [task for task in asyncio.all_tasks() if task is not asyncio.current_task()]
        for task in leftovers:
            task.cancel()
        await asyncio.gather(*leftovers, return_exceptions=True)

    def __enter__(self) -> FakeServer:
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()

    def _serve(self, ready: threading.Event) -> None:
        loop = self._loop = asyncio.new_event_loop()
        asyncio.set_event_loop(loop)
        app = web.Application(middlewares=[self._record], client_max_size=50 * 1024 * 1024)
        self.setup_routes(app)
        self._runner = web.AppRunner(app, access_log=None, shutdown_timeout=0.5, handler_cancellation=True)
        loop.run_until_complete(self._runner.setup())
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        loop.run_until_complete(site.start())
        self.port = site._server.sockets[0].getsockname()[1]
        ready.set()
        loop.run_forever()
        loop.close()

    @web.middleware
    async def _record(self, request: web.Request, handler):
        body = await request.read()
        parsed = None
        if request.content_type == "application/json" and body:
            try:
                import json

                parsed = json.loads(body)
            except ValueError:
                parsed = None
        self.requests.append(
            RecordedRequest(request.method, request.path, dict(request.headers), body, parsed, dict(request.query))
        )
        fault = self.faults.take(site_of(request))
        if fault is not None:
            return await fault.answer(request)
        return await handler(request)


def bearer(request: web.Request) -> str:
    header = request.headers.get("Authorization", "")
    return header.split(" ", 1)[1] if " " in header else ""
