"""The shared upstream client."""

import asyncio

import pytest
from aiohttp import web

from core import http as core_http
from tests.fakes.server import FakeServer


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
        client = core_http.get_client()
        # A host name, not an IP: cookie jars (aiohttp's included) ignore cookies from IP hosts.
        url = f"http://localhost:{fake.port}/"
        await client.get(url)
        await client.get(url)
        await core_http.close_client()

    with CookieSetter() as fake:
        asyncio.run(two_requests())
    assert len(fake.requests) == 2
    assert "Cookie" not in fake.requests[1].headers


def test_one_client_serves_every_call_in_an_event_loop():
    async def clients():
        first, second = core_http.get_client(), core_http.get_client()
        await core_http.close_client()
        return first, second

    first, second = asyncio.run(clients())
    assert first is second
