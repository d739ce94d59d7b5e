"""Sending a vendor request: which transport failures may go to another key."""

import asyncio

import pytest
from aiohttp import web

from core import http as core_http
from tests.fakes.server import FakeServer
from vendors import errors
from vendors.transport import send


class Dropper(FakeServer):
    """Takes the request, waits ``?after=`` seconds, then closes the connection without answering."""

    def setup_routes(self, app):
        async def drop(request):
            await asyncio.sleep(float(request.query.get("after", "0")))
            request.transport.close()
            return web.Response()  # never delivered

        app.router.add_post("/generate", drop)


def send_to(url: str):
    async def one():
        client = core_http.get_client()
        try:
            await send(client, client.build_request("POST", url, json={}), timeout=10)
        finally:
            await core_http.close_client()

    return asyncio.run(one())


@pytest.mark.parametrize("transport", ["aiohttp", "httpx"])
def test_a_connection_dropped_long_after_sending_is_not_retried(settings, transport):
    settings.HTTP_TRANSPORT = transport
    with Dropper() as fake, pytest.raises(errors.UpstreamTimeout) as caught:
        send_to(fake.url + "/generate?after=1.5")
    assert not caught.value.tries_next_key
    assert "closed the connection" in caught.value.message


@pytest.mark.parametrize("transport", ["aiohttp", "httpx"])
def test_a_connection_dropped_at_once_is_worth_another_key(settings, transport):
    settings.HTTP_TRANSPORT = transport
    with Dropper() as fake, pytest.raises(errors.UpstreamUnavailable) as caught:
        send_to(fake.url + "/generate?after=0")
    assert caught.value.tries_next_key


def test_a_refused_connection_is_worth_another_key(settings):
    settings.HTTP_TRANSPORT = "aiohttp"
    with Dropper() as fake:
        port = fake.port
    with pytest.raises(errors.UpstreamUnavailable):
        send_to(f"http://127.0.0.1:{port}/generate")
