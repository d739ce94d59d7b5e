"""The safe downloader: schemes, addresses, redirects, byte cap, time budget, safe messages."""

from __future__ import annotations

import socket
import time

import httpx
import pytest

from core import fetch
from core import http as core_http
from core.fetch import fetch_image_bytes
from tests.core import fails
from tests.fakes.image_host import FakeImageHost
from tests.fakes.server import png_bytes
from tests.proxy import run


def assert_names_no_address(message: str, host: FakeImageHost | None = None) -> None:
    assert "http" not in message
    assert "127.0.0" not in message
    assert "localhost" not in message
    if host is not None:
        assert str(host.port) not in message


@pytest.fixture
def host():
    with FakeImageHost() as server:
        yield server


@pytest.fixture
def mock_transport():
    """Route the shared client through an httpx.MockTransport; yields the requests it saw."""
    seen: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return httpx.Response(200, content=png_bytes(), headers={"Content-Type": "image/png"})

    core_http.use_transport(httpx.MockTransport(handler))
    yield seen
    core_http.use_transport(None)


def fake_dns(monkeypatch, answers: dict[str, list[str]]) -> None:
    async def resolve(name: str, port: int) -> list[str]:
        if name not in answers:
            raise socket.gaierror(socket.EAI_NONAME, "Name or service not known")
        return answers[name]

    monkeypatch.setattr(fetch, "resolve", resolve)


# --- where a URL may point ---------------------------------------------------------------------


def test_an_image_is_downloaded_from_a_trusted_origin_with_its_content_type(host):
    body, content_type = run(fetch_image_bytes(host.url_for("/image.png"), trusted_origins=[host.url]))

    assert body == host.body
    assert content_type == "image/png"


def test_a_loopback_host_is_refused_before_any_connection_when_its_origin_is_not_trusted(host):
    message = fails(host.url_for("/image.png"))

    assert message == "the image URL points to a private network address"
    assert host.requests == []
    assert_names_no_address(message, host)


def test_a_loopback_host_is_fetched_when_private_addresses_are_allowed(host, settings):
    settings.IMAGE_FETCH_ALLOW_PRIVATE = True

    body, _ = run(fetch_image_bytes(host.url_for("/image.png")))

    assert body == host.body


@pytest.mark.parametrize(
    "address",
    [
        "10.0.0.1",
        "172.16.5.4",
        "192.168.1.1",
        "169.254.169.254",
        "0.0.0.0",
        "224.0.0.1",
        "240.0.0.1",
        "100.64.0.1",
        "[::1]",
        "[fe80::1]",
        "[fc00::1]",
        "[::ffff:127.0.0.1]",
        "[::]",
    ],
)
def test_private_and_special_addresses_are_refused(address):
    message = fails(f"http://{address}/latest/meta-data")

    assert message == "the image URL points to a private network address"


def test_a_host_with_any_private_address_among_its_answers_is_refused(monkeypatch, mock_transport):
    fake_dns(monkeypatch, {"images.example": ["93.184.216.34", "10.0.0.5"]})

    assert fails("https://images.example/a.png") == "the image URL points to a private network address"
    assert mock_transport == []


def test_a_public_host_is_fetched_from_the_address_that_was_checked(monkeypatch, mock_transport):
    fake_dns(monkeypatch, {"images.example": ["2606:2800:220:1::1", "93.184.216.34"]})

    body, _ = run(fetch_image_bytes("https://images.example:8443/a.png?sig=abc"))

    assert body == png_bytes()
    [request] = mock_transport
    assert request.url.host == "93.184.216.34"  # pinned: a second DNS answer cannot redirect it
    assert request.url.port == 8443
    assert request.url.path == "/a.png"
    assert request.url.params["sig"] == "abc"
    assert request.headers["host"] == "images.example:8443"
    assert request.extensions["sni_hostname"] == "images.example"


def test_a_host_that_does_not_resolve_is_refused(monkeypatch):
    fake_dns(monkeypatch, {})

    message = fails("https://nowhere.example/a.png")

    assert message == "the image host could not be resolved"
    assert "nowhere" not in message


@pytest.mark.parametrize(
    "url",
    ["file:///etc/passwd", "ftp://127.0.0.1/a.png", "gopher://127.0.0.1:70/_x", "data:image/png;base64,AAAA"],
)
def test_schemes_other_than_http_and_https_are_refused(url):
    message = fails(url, trusted_origins=[url])

    assert message == "the image URL does not use http or https"


def test_a_url_without_a_host_is_refused():
    assert fails("http:///a.png") == "the image URL has no host"


# --- redirects ----------------------------------------------------------------------------------


def test_redirects_are_followed_up_to_the_limit(host, settings):
    settings.IMAGE_FETCH_MAX_REDIRECTS = 3

    body, _ = run(fetch_image_bytes(host.url_for("/redirect/3"), trusted_origins=[host.url]))

    assert body == host.body
    assert [r.path for r in host.requests] == ["/redirect/3", "/redirect/2", "/redirect/1", "/image.png"]


def test_one_redirect_beyond_the_limit_is_refused(host, settings):
    settings.IMAGE_FETCH_MAX_REDIRECTS = 3

    message = fails(host.url_for("/redirect/4"), trusted_origins=[host.url])

    assert message == "the image URL redirected more than 3 times"
    assert "/image.png" not in [r.path for r in host.requests]
    assert_names_no_address(message, host)


def test_no_redirect_is_followed_when_the_limit_is_zero(host, settings):
    settings.IMAGE_FETCH_MAX_REDIRECTS = 0

    assert (
        fails(host.url_for("/redirect/1"), trusted_origins=[host.url]) == "the image URL redirected more than 0 times"
    )


def test_a_redirect_to_another_host_is_checked_again(host):
    target = "http://127.0.0.2:1/image.png"  # loopback too, but not the trusted host

    message = fails(host.url_for(f"/redirect-to?url={target}"), trusted_origins=[host.url])

    assert message == "the image URL points to a private network address"
    assert_names_no_address(message, host)


def test_a_redirect_to_another_scheme_is_refused(host):
    message = fails(host.url_for("/redirect-to?url=file:///etc/passwd"), trusted_origins=[host.url])

    assert message == "the image URL does not use http or https"


def test_a_redirect_from_a_public_host_to_a_private_one_is_refused(monkeypatch):
    fake_dns(monkeypatch, {"images.example": ["93.184.216.34"]})
    seen = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return httpx.Response(302, headers={"Location": "http://169.254.169.254/latest/meta-data"})

    core_http.use_transport(httpx.MockTransport(handler))
    try:
        message = fails("https://images.example/a.png")
    finally:
        core_http.use_transport(None)

    assert message == "the image URL points to a private network address"
    assert len(seen) == 1


# --- answers, size and time ---------------------------------------------------------------------


@pytest.mark.parametrize("status", [403, 404, 500])
def test_an_error_status_is_reported_by_its_number_only(host, status):
    host.status = status

    message = fails(host.url_for("/image.png"), trusted_origins=[host.url])

    assert message == f"the vendor's image URL answered HTTP {status}"
    assert_names_no_address(message, host)


def test_an_expired_url_fails_once_it_has_expired(host):
    url = host.url_for("/expiring.png")
    assert run(fetch_image_bytes(url, trusted_origins=[host.url]))[0] == host.body

    host.expire()

    assert fails(url, trusted_origins=[host.url]) == "the vendor's image URL answered HTTP 404"


@pytest.mark.parametrize("declare", ["", "1"], ids=["streamed", "declared"])
def test_a_body_over_the_byte_cap_is_refused(host, settings, declare):
    settings.IMAGE_MAX_BYTES = 10_000
    host.huge_bytes = 200_000

    message = fails(host.url_for(f"/huge?declare={declare}"), trusted_origins=[host.url])

    assert message == "the image is larger than 9.766 KB"


def test_the_default_byte_cap_is_named_in_megabytes(host, settings):
    settings.IMAGE_MAX_BYTES = 20 * 1024 * 1024
    host.huge_bytes = 21 * 1024 * 1024

    assert fails(host.url_for("/huge?declare=1"), trusted_origins=[host.url]) == "the image is larger than 20 MB"


def test_a_body_exactly_at_the_byte_cap_is_accepted(host, settings):
    settings.IMAGE_MAX_BYTES = 70_000
    host.huge_bytes = 70_000

    body, _ = run(fetch_image_bytes(host.url_for("/huge"), trusted_origins=[host.url]))

    assert len(body) == 70_000


def test_a_slow_download_stops_at_the_time_budget(host, settings):
    settings.IMAGE_FETCH_TIMEOUT = 0.3
    host.slow_seconds = 5

    started = time.monotonic()
    message = fails(host.url_for("/slow"), trusted_origins=[host.url])

    assert message == "the image download did not finish within 0.3 s"
    assert time.monotonic() - started < 3


def test_a_host_that_is_down_fails_without_naming_it(settings):
    settings.IMAGE_FETCH_ALLOW_PRIVATE = True
    server = FakeImageHost().start()
    url = server.url_for("/image.png")
    server.stop()

    message = fails(url)

    assert message.startswith("the image download failed (")
    assert_names_no_address(message, server)


def test_is_forbidden_address_lets_public_addresses_through():
    assert not fetch.is_forbidden_address("93.184.216.34")
    assert not fetch.is_forbidden_address("2606:2800:220:1::1")
    assert fetch.is_forbidden_address("not-an-address")


@pytest.mark.parametrize("transport", ["aiohttp", "httpx"])
def test_a_pinned_request_reaches_the_checked_address_with_the_host_name_in_the_host_header(
    host, monkeypatch, settings, transport
):
    settings.HTTP_TRANSPORT = transport
    fake_dns(monkeypatch, {"images.example": ["127.0.0.1"]})
    monkeypatch.setattr(fetch, "is_forbidden_address", lambda address: False)  # pretend 127.0.0.1 is public

    body, _ = run(fetch_image_bytes(f"http://images.example:{host.port}/image.png"))

    assert body == host.body
    assert host.requests[0].headers["Host"] == f"images.example:{host.port}"
