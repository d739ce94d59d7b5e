"""The one outgoing HTTP client: a shared ``httpx.AsyncClient`` per event loop.

A gunicorn worker runs one event loop, so it holds one client and one connection pool for every
request in flight, to vendors and to image hosts alike. The client is keyed by loop because
connection pools cannot cross loops (Django's sync test client runs each request in a fresh
loop). The clients live in the process state (``core.state``).

By default the client rides on aiohttp through ``httpx-aiohttp``: httpx's own async transport
is several times slower under concurrency (bench/README.md has the figures). HTTP_TRANSPORT=httpx
switches back.
"""

from __future__ import annotations

import asyncio
import weakref
from dataclasses import dataclass, field

import httpx
from django.conf import settings

from core.state import process_state


@dataclass
class HttpClients:
    """This process's clients, one per event loop, and the transport tests may put under them."""

    by_loop: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, httpx.AsyncClient] = field(
        default_factory=weakref.WeakKeyDictionary
    )
    transport: httpx.AsyncBaseTransport | None = None


def _clients() -> HttpClients:
    return process_state().slot(HttpClients)


class _NoCookies(httpx.Cookies):
    """A cookie jar that keeps nothing. One client serves every vendor key: a cookie a vendor sets
    for one key must not ride along with the next key's requests (and parsing them costs CPU)."""

    def extract_cookies(self, response: httpx.Response) -> None:
        pass

    def set_cookie_header(self, request: httpx.Request) -> None:
        pass


def _build_client(transport: httpx.AsyncBaseTransport | None) -> httpx.AsyncClient:
    client = _new_client(transport)
    client._cookies = _NoCookies()  # the public setter would copy it into a plain Cookies
    return client


def _new_client(transport: httpx.AsyncBaseTransport | None) -> httpx.AsyncClient:
    limits = httpx.Limits(
        max_connections=settings.UPSTREAM_MAX_CONNECTIONS,
        max_keepalive_connections=min(settings.UPSTREAM_MAX_CONNECTIONS, 200),
        keepalive_expiry=30,
    )
    # read/write/pool are per request (see send); connect is the one fixed budget.
    timeout = httpx.Timeout(120.0, connect=settings.UPSTREAM_CONNECT_TIMEOUT)
    headers = {"User-Agent": "imagegen/1.0"}
    if transport is not None:
        return httpx.AsyncClient(transport=transport, timeout=timeout, headers=headers)
    if settings.HTTP_TRANSPORT == "aiohttp":
        return httpx.AsyncClient(transport=_aiohttp_transport(limits), timeout=timeout, headers=headers)
    return httpx.AsyncClient(limits=limits, timeout=timeout, headers=headers, trust_env=False)


def _aiohttp_transport(limits: httpx.Limits) -> httpx.AsyncBaseTransport:
    import aiohttp
    from httpx_aiohttp import AiohttpTransport

    ssl_context = httpx.create_ssl_context(trust_env=False)

    def session() -> aiohttp.ClientSession:
        connector = aiohttp.TCPConnector(
            limit=limits.max_connections, keepalive_timeout=limits.keepalive_expiry, ssl=ssl_context
        )
        # aiohttp keeps cookies in its own jar too; a dummy one keeps them from crossing keys.
        return aiohttp.ClientSession(connector=connector, cookie_jar=aiohttp.DummyCookieJar())

    return AiohttpTransport(client=session)


def get_client() -> httpx.AsyncClient:
    clients = _clients()
    loop = asyncio.get_running_loop()
    client = clients.by_loop.get(loop)
    if client is None or client.is_closed:
        client = clients.by_loop[loop] = _build_client(clients.transport)
    return client


async def close_client() -> None:
    client = _clients().by_loop.pop(asyncio.get_running_loop(), None)
    if client is not None:
        await client.aclose()


def use_transport(transport: httpx.AsyncBaseTransport | None) -> None:
    """Test hook: route every new client through ``transport`` (e.g. ``httpx.MockTransport``)."""
    clients = _clients()
    clients.transport = transport
    clients.by_loop.clear()
