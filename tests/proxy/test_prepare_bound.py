"""A burst of vendor answers: each worker downloads, checks and writes at most IMAGE_PREPARE_CONCURRENCY
images at once, so a thousand answers arriving together do not hold a thousand images in memory."""

from __future__ import annotations

import asyncio
import threading

import pytest
from aiohttp import web

from proxy.services import prepare_image
from tests.fakes.image_host import FakeImageHost
from tests.fakes.server import png_bytes
from tests.proxy import run

pytestmark = pytest.mark.django_db(transaction=True)


class CountingHost(FakeImageHost):
    """Serves a different image per path after a short wait, and notes the most downloads at once."""

    def __init__(self) -> None:
        super().__init__()
        self.now = self.most = 0

    def setup_routes(self, app: web.Application) -> None:
        app.router.add_get("/{n}.png", self._counted)

    async def _counted(self, request: web.Request) -> web.Response:
        self.now += 1
        self.most = max(self.most, self.now)
        try:
            await asyncio.sleep(0.05)
            side = 8 + int(request.match_info["n"])
            return web.Response(body=png_bytes(side, side), headers={"Content-Type": "image/png"})
        finally:
            self.now -= 1


def test_a_burst_of_images_is_prepared_a_few_at_a_time_and_every_one_is_kept(settings):
    settings.IMAGE_PREPARE_CONCURRENCY = 3
    with CountingHost() as host:

        async def burst():
            return await asyncio.gather(
                *(prepare_image(url=f"{host.url}/{n}.png", trusted_origins=[host.url]) for n in range(12))
            )

        prepared = run(burst())

    assert len({image.sha256 for image in prepared}) == 12
    assert host.most == 3


class StallingHost(FakeImageHost):
    """Answers nothing until released: an image host that has stopped sending."""

    def __init__(self) -> None:
        super().__init__()
        self.release = threading.Event()  # set from the test's loop; this host runs its own

    def setup_routes(self, app: web.Application) -> None:
        app.router.add_get("/{n}.png", self._stalled)

    async def _stalled(self, request: web.Request) -> web.Response:
        while not self.release.is_set():
            await asyncio.sleep(0.02)
        return web.Response(body=png_bytes(9, 9), headers={"Content-Type": "image/png"})


def test_a_stalled_image_host_holding_every_place_does_not_hold_up_another_hosts_images(settings):
    settings.IMAGE_PREPARE_CONCURRENCY = 2
    with StallingHost() as slow, CountingHost() as fast:

        async def both():
            stalled = [
                asyncio.ensure_future(prepare_image(url=f"{slow.url}/{n}.png", trusted_origins=[slow.url]))
                for n in range(4)
            ]
            await asyncio.sleep(0.2)  # the slow host's downloads hold both places (and two more wait)
            quick = await asyncio.wait_for(
                asyncio.gather(
                    *(prepare_image(url=f"{fast.url}/{n}.png", trusted_origins=[fast.url]) for n in range(3))
                ),
                timeout=5,
            )
            waiting = sum(not task.done() for task in stalled)
            slow.release.set()
            return quick, waiting, await asyncio.gather(*stalled)

        quick, waiting, late = run(both())

    assert len(quick) == 3 and waiting == 4
    assert len(late) == 4 and fast.most == 2
