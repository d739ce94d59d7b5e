"""Downloading a vendor's image URL without letting that URL reach into our own network.

The URL comes from a vendor's answer, so it is treated as untrusted: http(s) only, every
redirect hop checked again, every address the host resolves to must be public, a byte cap and a
total time budget. The connection then goes to the address that was checked (the host name
travels in the ``Host`` header and TLS SNI), so a DNS answer that changes between the check and
the connection (DNS rebinding) cannot point it somewhere else.

URLs on a trusted origin (the vendor's own API origin, passed by the caller) and every URL when
``IMAGE_FETCH_ALLOW_PRIVATE`` is on skip the address check: a self-hosted vendor on a private
network serves its images from there. The exception is the exact origin (scheme, host and port,
default ports written out), never the host on another port: a vendor's name must not open the
Redis or the admin port of the machine it runs on. Every redirect hop is checked again, so a
redirect from the trusted origin to another port or a private address is refused unless it is the
same origin or passes the address check.

Refusals are logged (a warning naming the scheme, the masked host and the port: never the URL, its
path or its query, which can carry a vendor's signature).

Failures raise :class:`ImageFetchFailed` with a message meant for the client: it never names the
URL, host or port (signed vendor URLs carry credentials, and private addresses are not the
client's business).
"""

from __future__ import annotations

import asyncio
import ipaddress
import logging
import socket
from collections.abc import Iterable

import httpx
from django.conf import settings

from core.errors import GatewayError
from core.http import get_client
from core.redaction import masked_host

log = logging.getLogger(__name__)

REDIRECT_STATUSES = frozenset({301, 302, 303, 307, 308})
ALLOWED_SCHEMES = frozenset({"http", "https"})
DEFAULT_PORTS = {"http": 80, "https": 443}


class ImageFetchFailed(GatewayError):
    """The image could not be downloaded, decoded or stored; the message is safe to show a client."""

    status = 502
    code = "image_fetch_failed"
    error_type = "upstream_error"


def human_size(n: int) -> str:
    """``20971520`` -> ``20 MB``; for messages about the byte cap."""
    if n >= 1024 * 1024:
        return f"{n / (1024 * 1024):.4g} MB"
    if n >= 1024:
        return f"{n / 1024:.4g} KB"
    return f"{n} bytes"


def too_large() -> ImageFetchFailed:
    return ImageFetchFailed(f"the image is larger than {human_size(settings.IMAGE_MAX_BYTES)}")


def is_forbidden_address(address: str) -> bool:
    """True for addresses that are not on the public internet (private, loopback, link-local, ...)."""
    try:
        ip = ipaddress.ip_address(address.split("%", 1)[0])  # drop an IPv6 scope id (fe80::1%eth0)
    except ValueError:
        return True
    if isinstance(ip, ipaddress.IPv6Address):
        embedded = ip.ipv4_mapped or ip.sixtofour or (ip.teredo[1] if ip.teredo else None)
        if embedded is not None and is_forbidden_address(str(embedded)):
            return True
    return (
        ip.is_private
        or ip.is_loopback
        or ip.is_link_local
        or ip.is_multicast
        or ip.is_reserved
        or ip.is_unspecified
        or not ip.is_global  # also shared address space (100.64.0.0/10) and other non-public blocks
        or (isinstance(ip, ipaddress.IPv6Address) and ip.is_site_local)
    )


async def resolve(host: str, port: int) -> list[str]:
    """Every address ``host`` resolves to (a module function so tests can stand in for DNS)."""
    infos = await asyncio.get_running_loop().getaddrinfo(host, port, type=socket.SOCK_STREAM)
    return [info[4][0] for info in infos]


def origin(url: str | httpx.URL) -> str:
    """``scheme://host:port`` of a URL, the port always written (``https://api.bfl.ai:443``) and the
    host lower-cased without a trailing dot; "" when the URL has no host or cannot be read."""
    try:
        parsed = url if isinstance(url, httpx.URL) else httpx.URL(url)
        host = parsed.raw_host.decode("ascii").rstrip(".").lower()
    except (httpx.InvalidURL, TypeError, ValueError, UnicodeError):
        return ""
    scheme = parsed.scheme.lower()
    if not host:
        return ""
    port = parsed.port or DEFAULT_PORTS.get(scheme, 0)
    return f"{scheme}://[{host}]:{port}" if ":" in host else f"{scheme}://{host}:{port}"


def _refused(url: httpx.URL, reason: str) -> ImageFetchFailed:
    """The refusal for the client, logged for the operator with the host masked."""
    host = url.raw_host.decode("ascii", "replace")
    port = url.port or DEFAULT_PORTS.get(url.scheme, "?")
    log.warning("image fetch refused, %s: scheme %s, host %s, port %s", reason, url.scheme, masked_host(host), port)
    return ImageFetchFailed(reason)


def _parse(url: str) -> httpx.URL:
    try:
        parsed = httpx.URL(url)
    except (httpx.InvalidURL, TypeError, ValueError) as exc:
        raise ImageFetchFailed("the image URL is not a valid URL") from exc
    if parsed.scheme not in ALLOWED_SCHEMES:
        raise _refused(parsed, "the image URL does not use http or https")
    if not parsed.raw_host:
        raise ImageFetchFailed("the image URL has no host")
    return parsed


async def _target(url: httpx.URL, trusted: frozenset[str]) -> tuple[httpx.URL, dict[str, str], dict]:
    """Check where ``url`` points; return the URL to connect to, extra headers and request extensions.

    For a checked host the URL names the checked address itself, with the host name in ``Host``
    and SNI; trusted origins (and everything under IMAGE_FETCH_ALLOW_PRIVATE) go out unchanged.
    """
    if settings.IMAGE_FETCH_ALLOW_PRIVATE or origin(url) in trusted:
        return url, {}, {}
    host = url.raw_host.decode("ascii").rstrip(".").lower()
    port = url.port or DEFAULT_PORTS[url.scheme]
    try:
        addresses = [str(ipaddress.ip_address(host))]  # an address literal needs no lookup
    except ValueError:
        try:
            addresses = await resolve(host, port)
        except (OSError, UnicodeError) as exc:
            raise ImageFetchFailed("the image host could not be resolved") from exc
    if not addresses or any(is_forbidden_address(address) for address in addresses):
        raise _refused(url, "the image URL points to a private network address")
    # Prefer IPv4: a container without IPv6 routing still gets AAAA answers.
    address = next((a for a in addresses if ":" not in a), addresses[0]).split("%", 1)[0]
    pinned = url.copy_with(host=address)
    extensions = {"sni_hostname": host} if url.scheme == "https" else {}
    return pinned, {"Host": url.netloc.decode("ascii")}, extensions


async def _download(url: str, trusted: frozenset[str]) -> tuple[bytes, str | None]:
    client = get_client()
    current, redirects = _parse(url), 0
    while True:
        target, headers, extensions = await _target(current, trusted)
        request = client.build_request(
            "GET",
            target,
            headers={"Accept": "image/*", **headers},
            timeout=httpx.Timeout(settings.IMAGE_FETCH_TIMEOUT),
            extensions=extensions,
        )
        response = await client.send(request, stream=True, follow_redirects=False)
        try:
            if response.status_code in REDIRECT_STATUSES:
                current, redirects = _redirected(current, response, redirects + 1), redirects + 1
                continue
            if response.status_code != 200:
                raise ImageFetchFailed(f"the vendor's image URL answered HTTP {response.status_code}")
            return await _read_capped(response), response.headers.get("content-type")
        finally:
            await response.aclose()


def _redirected(current: httpx.URL, response: httpx.Response, redirects: int) -> httpx.URL:
    """Where a redirect points (checked again by the caller), within IMAGE_FETCH_MAX_REDIRECTS."""
    location = response.headers.get("location")
    if not location:
        raise ImageFetchFailed(f"the vendor's image URL answered HTTP {response.status_code}")
    if redirects > settings.IMAGE_FETCH_MAX_REDIRECTS:
        raise ImageFetchFailed(f"the image URL redirected more than {settings.IMAGE_FETCH_MAX_REDIRECTS} times")
    try:
        return _parse(str(current.join(location)))
    except httpx.InvalidURL as exc:
        raise ImageFetchFailed("the image URL redirected to an invalid URL") from exc


async def read_at_most(response: httpx.Response, cap: int) -> bytes | None:
    """A streamed body of at most ``cap`` bytes; None as soon as it passes the cap (the rest is never read)."""
    chunks: list[bytes] = []
    size = 0
    async for chunk in response.aiter_bytes():
        size += len(chunk)
        if size > cap:
            return None
        chunks.append(chunk)
    return b"".join(chunks)


async def _read_capped(response: httpx.Response) -> bytes:
    """The body, refused as soon as it (or its declared length) passes IMAGE_MAX_BYTES."""
    cap = settings.IMAGE_MAX_BYTES
    declared = response.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > cap:
        raise too_large()
    body = await read_at_most(response, cap)
    if body is None:
        raise too_large()
    return body


async def fetch_image_bytes(url: str, *, trusted_origins: Iterable[str] = ()) -> tuple[bytes, str | None]:
    """Download ``url``: the body and the Content-Type the host declared (a hint, not a verdict).

    ``trusted_origins`` are URLs (or origins) whose exact origin may be private; their paths do not matter."""
    trusted = frozenset(filter(None, (origin(base) for base in trusted_origins)))
    timeout = settings.IMAGE_FETCH_TIMEOUT
    try:
        async with asyncio.timeout(timeout):
            return await _download(url, trusted)
    except ImageFetchFailed:
        raise
    except TimeoutError as exc:
        raise ImageFetchFailed(f"the image download did not finish within {timeout:g} s") from exc
    except (httpx.HTTPError, OSError) as exc:
        # The class name only: httpx and aiohttp messages name the host and port. (httpx-aiohttp
        # reports a refused connection as ConnectTimeout, so no "timed out" wording here.)
        raise ImageFetchFailed(f"the image download failed ({type(exc).__name__})") from exc
