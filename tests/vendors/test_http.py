"""The shared upstream client."""

import asyncio

import pytest
from aiohttp import web

from tests.fakes.server import FakeServer
from vendors import errors
from vendors import http as vendor_http


class CookieSetter(FakeServer):
    def setup_routes(self, app):
        async def answer(request):
            response = web.json_response({"ok": True})
            response.set_cookie("session", "vendor-session-for-key-one")
            return response

        app.router.add_get("/", answer)


@pytest.mark.parametrize("transport", ["aiohttp", "httpx"])
def test_a_cookie_set_for_one_request_is_not_sent_with_the_next(settings, transport):
    settings.HTTP_TRANSPORT = transport

    async def two_requests():
        client = vendor_http.get_client()
        # A host name, not an IP: cookie jars (aiohttp's included) ignore cookies from IP hosts.
        url = f"http://localhost:{fake.port}/"
        await client.get(url)
        await client.get(url)
        await vendor_http.close_client()

    with CookieSetter() as fake:
        asyncio.run(two_requests())
    assert len(fake.requests) == 2
    assert "Cookie" not in fake.requests[1].headers


def test_one_client_serves_every_call_in_an_event_loop():
    async def clients():
        first, second = vendor_http.get_client(), vendor_http.get_client()
        await vendor_http.close_client()
        return first, second

    first, second = asyncio.run(clients())
    assert first is second


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
        client = vendor_http.get_client()
        try:
            await vendor_http.send(client, client.build_request("POST", url, json={}), timeout=10)
        finally:
            await vendor_http.close_client()

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
