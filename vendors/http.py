"""The one outgoing HTTP path: a shared ``httpx.AsyncClient`` per event loop, and ``send``.

A gunicorn worker runs one event loop, so it holds one client and one connection pool for every
request in flight. The client is keyed by loop because connection pools cannot cross loops
(Django's sync test client runs each request in a fresh loop).

By default the client rides on aiohttp through ``httpx-aiohttp``: httpx's own async transport
is several times slower under concurrency (bench/README.md has the figures). HTTP_TRANSPORT=httpx
switches back.
"""

from __future__ import annotations

import asyncio
import time
import weakref

import httpx
from django.conf import settings

from vendors import errors

_clients: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, httpx.AsyncClient] = weakref.WeakKeyDictionary()
_transport_override: httpx.AsyncBaseTransport | None = None


class _NoCookies(httpx.Cookies):
    """A cookie jar that keeps nothing. One client serves every vendor key: a cookie a vendor sets
    for one key must not ride along with the next key's requests (and parsing them costs CPU)."""

    def extract_cookies(self, response: httpx.Response) -> None:
        pass

    def set_cookie_header(self, request: httpx.Request) -> None:
        pass


def _build_client() -> httpx.AsyncClient:
    client = _new_client()
    client._cookies = _NoCookies()  # the public setter would copy it into a plain Cookies
    return client


def _new_client() -> httpx.AsyncClient:
    limits = httpx.Limits(
        max_connections=settings.UPSTREAM_MAX_CONNECTIONS,
        max_keepalive_connections=min(settings.UPSTREAM_MAX_CONNECTIONS, 200),
        keepalive_expiry=30,
    )
    # read/write/pool are per request (see send); connect is the one fixed budget.
    timeout = httpx.Timeout(120.0, connect=settings.UPSTREAM_CONNECT_TIMEOUT)
    headers = {"User-Agent": "imagegen/1.0"}
    if _transport_override is not None:
        return httpx.AsyncClient(transport=_transport_override, timeout=timeout, headers=headers)
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
    loop = asyncio.get_running_loop()
    client = _clients.get(loop)
    if client is None or client.is_closed:
        client = _clients[loop] = _build_client()
    return client


async def close_client() -> None:
    client = _clients.pop(asyncio.get_running_loop(), None)
    if client is not None:
        await client.aclose()


def use_transport(transport: httpx.AsyncBaseTransport | None) -> None:
    """Test hook: route every new client through ``transport`` (e.g. ``httpx.MockTransport``)."""
    global _transport_override
    _transport_override = transport
    _clients.clear()


def request_timeout(total: float) -> httpx.Timeout:
    return httpx.Timeout(total, connect=min(settings.UPSTREAM_CONNECT_TIMEOUT, total))


# A connection that dies this long after the request went out is taken as "the vendor had it":
# long generations behind proxies get cut, and another key would generate (and bill) again.
SENT_AFTER_SECONDS = 1.0


async def send(client: httpx.AsyncClient, request: httpx.Request, *, timeout: float) -> httpx.Response:
    """Send one upstream request with a total time budget, mapping transport failures onto the tree.

    Failures before the request reached the vendor (connect errors and timeouts, no pool slot)
    are ``UpstreamUnavailable``: safe to try another key. A read timeout, the total budget
    running out, or the connection dropping well after the request went out happen after the
    vendor has the request: ``UpstreamTimeout``, not resubmitted.
    """
    request.extensions["timeout"] = request_timeout(timeout).as_dict()
    started = time.monotonic()
    try:
        async with asyncio.timeout(timeout):
            return await client.send(request)
    except (httpx.ReadTimeout, TimeoutError) as exc:
        raise errors.UpstreamTimeout(f"the vendor did not answer within {timeout:g} s") from exc
    except (httpx.TransportError, httpx.TimeoutException) as exc:
        waited = time.monotonic() - started
        if _dropped_after_send(exc) and waited >= SENT_AFTER_SECONDS:
            raise errors.UpstreamTimeout(
                f"the vendor closed the connection after {waited:.0f} s without an answer"
            ) from exc
        if isinstance(exc, httpx.ConnectError | httpx.ConnectTimeout | httpx.PoolTimeout):
            raise errors.UpstreamUnavailable(f"could not connect to the vendor ({type(exc).__name__})") from exc
        raise errors.UpstreamUnavailable(f"the vendor connection failed ({type(exc).__name__})") from exc


def _dropped_after_send(exc: Exception) -> bool:
    """The server closed an established connection (httpx-aiohttp reports that as ConnectTimeout)."""
    if isinstance(exc, httpx.RemoteProtocolError | httpx.ReadError):
        return True
    cause = exc.__cause__
    if cause is None:
        return False
    import aiohttp

    return isinstance(cause, aiohttp.ServerDisconnectedError | aiohttp.ClientPayloadError)
