"""A fake image host, standing in for the CDN a vendor's image URLs point at.

Routes:

- ``/image.png``: ``body`` with ``status`` and ``content_type`` (the knobs a test turns).
- ``/redirect/<n>``: a chain of ``n`` redirects ending at ``/image.png``.
- ``/redirect-to?url=<absolute URL>``: one redirect anywhere, e.g. to another host.
- ``/huge``: ``huge_bytes`` bytes, streamed without a Content-Length; ``/huge?declare=1`` declares it.
- ``/slow``: headers at once, then the body a chunk every ``slow_seconds``.
- ``/expiring.png``: ``body`` until :meth:`expire`, 404 after (vendor URLs die within the hour).
"""

from __future__ import annotations

import asyncio

from aiohttp import web

from tests.fakes.server import FakeServer, png_bytes


class FakeImageHost(FakeServer):
    def __init__(self, body: bytes | None = None, *, content_type: str = "image/png", status: int = 200) -> None:
        super().__init__()
        self.body = png_bytes() if body is None else body
        self.content_type = content_type
        self.status = status
        self.huge_bytes = 1024 * 1024
        self.slow_seconds = 5.0
        self.expired = False

    def expire(self) -> None:
        self.expired = True

    def url_for(self, path: str) -> str:
        return f"{self.url}{path}"

    def setup_routes(self, app: web.Application) -> None:
        app.router.add_get("/image.png", self._image)
        app.router.add_get("/redirect/{n}", self._redirect)
        app.router.add_get("/redirect-to", self._redirect_to)
        app.router.add_get("/huge", self._huge)
        app.router.add_get("/slow", self._slow)
        app.router.add_get("/expiring.png", self._expiring)

    async def _image(self, request: web.Request) -> web.Response:
        return web.Response(body=self.body, status=self.status, headers={"Content-Type": self.content_type})

    async def _redirect(self, request: web.Request) -> web.Response:
        n = int(request.match_info["n"])
        location = "/image.png" if n <= 1 else f"/redirect/{n - 1}"
        raise web.HTTPFound(location)

    async def _redirect_to(self, request: web.Request) -> web.Response:
        raise web.HTTPFound(request.query["url"])

    async def _huge(self, request: web.Request) -> web.StreamResponse:
        response = web.StreamResponse(headers={"Content-Type": "image/png"})
        if request.query.get("declare"):
            response.content_length = self.huge_bytes
        await response.prepare(request)
        chunk = b"\0" * 65536
        remaining = self.huge_bytes
        while remaining > 0:
            await response.write(chunk[:remaining])
            remaining -= len(chunk)
        await response.write_eof()
        return response

    async def _slow(self, request: web.Request) -> web.StreamResponse:
        response = web.StreamResponse(headers={"Content-Type": "image/png"})
        await response.prepare(request)
        for start in range(0, len(self.body), 64):
            waited = 0.0
            while waited < self.slow_seconds:  # short naps, so a client that gave up ends the handler
                if request.transport is None or request.transport.is_closing():
                    return response
                await asyncio.sleep(0.05)
                waited += 0.05
            await response.write(self.body[start : start + 64])
        await response.write_eof()
        return response

    async def _expiring(self, request: web.Request) -> web.Response:
        if self.expired:
            return web.Response(status=404, text="NoSuchKey: the request signature has expired")
        return web.Response(body=self.body, headers={"Content-Type": self.content_type})
