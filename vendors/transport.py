"""Sending one vendor request through the shared client, with failures mapped onto the error tree.

Whether a failed request may go to another key depends on whether the vendor had it: a failure
before it was sent is safe to retry elsewhere, one after may already be billed.
"""

from __future__ import annotations

import asyncio
import time

import httpx
from django.conf import settings

from vendors import errors


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
        if dropped_connection(exc) and waited >= SENT_AFTER_SECONDS:
            raise errors.UpstreamTimeout(
                f"the vendor closed the connection after {waited:.0f} s without an answer"
            ) from exc
        if dropped_connection(exc):  # before the connect errors: httpx-aiohttp calls a drop ConnectTimeout
            raise errors.UpstreamUnavailable("the vendor closed the connection without an answer") from exc
        if isinstance(exc, httpx.ConnectError | httpx.ConnectTimeout | httpx.PoolTimeout):
            raise errors.UpstreamUnavailable(f"could not connect to the vendor ({type(exc).__name__})") from exc
        raise errors.UpstreamUnavailable(f"the vendor connection failed ({type(exc).__name__})") from exc


def dropped_connection(exc: BaseException) -> bool:
    """The server closed an established connection (httpx-aiohttp reports that as ConnectTimeout): the
    request was on its way, so the vendor may have it."""
    if isinstance(exc, httpx.RemoteProtocolError | httpx.ReadError):
        return True
    cause = exc.__cause__
    if cause is None:
        return False
    import aiohttp

    return isinstance(cause, aiohttp.ServerDisconnectedError | aiohttp.ClientPayloadError)
