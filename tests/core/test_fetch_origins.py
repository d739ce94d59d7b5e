"""The one exception to the address check is the vendor's exact origin: scheme, host and port."""

from __future__ import annotations

import logging
import socket

import httpx
import pytest

from core import fetch
from core import http as core_http
from core.fetch import fetch_image_bytes, origin
from tests.core import fails
from tests.fakes.image_host import FakeImageHost
from tests.fakes.server import png_bytes
from tests.proxy import run

PRIVATE = "the image URL points to a private network address"


@pytest.fixture
def vendor():
    with FakeImageHost() as server:
        yield server


@pytest.fixture
def other_port():
    """Another server on the vendor's host name, as a local Redis or an admin port would be."""
    with FakeImageHost() as server:
        yield server


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        ("https://API.Vendor.com./v1/images", "https://api.vendor.com:443"),
        ("https://api.vendor.com:443", "https://api.vendor.com:443"),
        ("http://api.vendor.com", "http://api.vendor.com:80"),
        ("http://api.vendor.com:8080/x?y=1", "http://api.vendor.com:8080"),
        ("http://[::1]:9000/v1", "http://[::1]:9000"),
        ("/v1/images", ""),
        ("http://[::1/", ""),
    ],
)
def test_an_origin_is_scheme_host_and_port_with_the_default_port_written_out(url, expected):
    assert origin(url) == expected


def test_the_vendors_origin_is_trusted_whatever_the_case_trailing_dot_or_path_of_its_base_url(vendor):
    base_url = f"HTTP://127.0.0.1.:{vendor.port}/v1/images/generations"

    body, _ = run(fetch_image_bytes(vendor.url_for("/image.png"), trusted_origins=[base_url]))

    assert body == vendor.body


def test_the_vendors_host_on_another_port_is_refused_before_any_connection(vendor, other_port):
    message = fails(other_port.url_for("/image.png"), trusted_origins=[vendor.url])

    assert message == PRIVATE
    assert other_port.requests == []


def test_the_vendors_host_with_another_scheme_is_not_its_origin(vendor):
    assert fails(f"https://127.0.0.1:{vendor.port}/image.png", trusted_origins=[vendor.url]) == PRIVATE


def test_a_redirect_from_the_vendors_origin_to_another_port_of_its_host_is_refused(vendor, other_port):
    target = other_port.url_for("/image.png")

    message = fails(vendor.url_for(f"/redirect-to?url={target}"), trusted_origins=[vendor.url])

    assert message == PRIVATE
    assert [request.path for request in vendor.requests] == ["/redirect-to"]
    assert other_port.requests == []


def test_a_redirect_from_the_vendors_origin_to_a_public_host_passes_the_address_check(monkeypatch):
    async def public_dns(name: str, port: int) -> list[str]:
        if name != "cdn.vendor.example":
            raise socket.gaierror(socket.EAI_NONAME, "Name or service not known")
        return ["93.184.216.34"]

    def vendor_and_cdn(request: httpx.Request) -> httpx.Response:
        if request.url.host == "api.vendor.example":
            return httpx.Response(302, headers={"Location": "https://cdn.vendor.example/a.png"})
        return httpx.Response(200, content=png_bytes(), headers={"Content-Type": "image/png"})

    monkeypatch.setattr(fetch, "resolve", public_dns)
    core_http.use_transport(httpx.MockTransport(vendor_and_cdn))
    try:
        body, _ = run(
            fetch_image_bytes("https://api.vendor.example/img/1", trusted_origins=["https://api.vendor.example"])
        )
    finally:
        core_http.use_transport(None)

    assert body == png_bytes()


def test_a_refused_fetch_is_logged_with_the_host_masked_and_without_the_url(other_port, caplog):
    caplog.set_level(logging.WARNING, logger="core.fetch")

    fails(other_port.url_for("/private/path.png?sig=s3cr3t"))

    [record] = [record for record in caplog.records if record.name == "core.fetch"]
    line = record.getMessage()
    assert "refused" in line and PRIVATE.removeprefix("the image URL ") in line
    assert f"scheme http, host 127.*.*.*, port {other_port.port}" in line
    assert "127.0.0.1" not in line and "/private" not in line and "s3cr3t" not in line


def test_a_refused_host_name_is_logged_masked_to_its_first_letters(monkeypatch, caplog):
    async def private_dns(name: str, port: int) -> list[str]:
        return ["10.0.0.5"]

    monkeypatch.setattr(fetch, "resolve", private_dns)
    caplog.set_level(logging.WARNING, logger="core.fetch")

    assert fails("http://redis.internal.vendor.com:6379/x") == PRIVATE

    line = caplog.records[-1].getMessage()
    assert "host r*.i*.v*.com, port 6379" in line
    assert "redis" not in line and "internal" not in line
