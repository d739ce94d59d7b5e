"""The edge as a client meets it on the real server: the API paths skip Django's middleware, so the
Host check and the key throttle are the gateway's own. uvicorn in a subprocess, a fake vendor, and
clients on two loopback addresses (127.0.0.1 and 127.0.0.2)."""

from __future__ import annotations

import httpx
import pytest

from tests.fakes.server import png_bytes
from tests.fakes.siliconflow import SiliconFlowFake
from tests.gateway_process import GatewayProcess

pytestmark = pytest.mark.e2e

CLIENT_KEY = "e2e-edge-client-key-4321"
CHAT = {"model": "flux-schnell", "messages": [{"role": "user", "content": "a lighthouse"}]}


@pytest.fixture(scope="module")
def sf():
    with SiliconFlowFake(image=png_bytes(32, 32)) as fake:
        yield fake


@pytest.fixture(scope="module")
def gateway(sf, tmp_path_factory):
    env = {
        "AUTHORIZED_API_KEY": CLIENT_KEY,
        "FLUX_GEN_API_BASE": sf.url + "/v1/images/generations",
        "FLUX_GEN_MODEL": "flux-schnell",
        "FLUX_GEN_API_KEY": "sk-sf-edge-1111",
        "ALLOWED_HOSTS": "img.example.com,127.0.0.1",
        "CLIENT_AUTH_FAILURE_LIMIT": "3",
    }
    with GatewayProcess(tmp_path_factory.mktemp("edge"), env) as process:
        yield process


def client_from(gateway, address: str) -> httpx.Client:
    transport = httpx.HTTPTransport(local_address=address)
    return httpx.Client(base_url=gateway.url, transport=transport, timeout=30)


def bearer(key: str = CLIENT_KEY) -> dict[str, str]:
    return {"Authorization": f"Bearer {key}"}


def stored_files(gateway) -> list:
    media = gateway.data_dir / "media"
    return [path for path in media.rglob("*") if path.is_file()] if media.exists() else []


@pytest.mark.parametrize("host", ["attacker.example", "bad host", "evil.example/x", "[::1"])
@pytest.mark.parametrize(
    ("path", "body"),
    [
        ("/v1/chat/completions", CHAT),
        ("/v1/chat/completions", {**CHAT, "stream": True}),
        ("/v1/images/generations", {"model": "flux-schnell", "prompt": "a lighthouse"}),
    ],
)
def test_a_host_that_is_not_allowed_is_a_400_before_any_vendor_call(gateway, sf, host, path, body):
    calls = len(sf.requests)
    response = httpx.post(gateway.url + path, json=body, headers={**bearer(), "Host": host}, timeout=30)
    assert response.status_code == 400, response.text
    assert response.json()["error"]["code"] == "invalid_host"
    assert len(sf.requests) == calls
    assert stored_files(gateway) == []


def test_an_allowed_host_gets_its_image_and_links_on_it(gateway):
    response = httpx.post(
        gateway.url + "/v1/images/generations",
        json={"model": "flux-schnell", "prompt": "a lighthouse"},
        headers={**bearer(), "Host": "img.example.com"},
        timeout=30,
    )
    assert response.status_code == 200, response.text
    url = response.json()["data"][0]["url"]
    assert url.startswith("http://img.example.com/images/")
    path = url.removeprefix("http://img.example.com")
    assert httpx.get(gateway.url + path, headers={"Host": "img.example.com"}).status_code == 200
    refused = httpx.get(gateway.url + path, headers={"Host": "attacker.example"})
    assert (refused.status_code, refused.json()["error"]["code"]) == (400, "invalid_host")


def test_health_answers_on_any_host(gateway):
    assert httpx.get(gateway.url + "/health", headers={"Host": "10.9.8.7:8000"}).status_code == 200


def test_wrong_keys_from_one_address_are_throttled_and_another_address_is_not(gateway):
    with client_from(gateway, "127.0.0.2") as attacker, client_from(gateway, "127.0.0.1") as app:
        answers = [attacker.get("/v1/models", headers=bearer(f"sk-guess-{n}")).status_code for n in range(4)]
        assert answers == [401, 401, 401, 429]
        spoofed = attacker.get("/v1/models", headers={**bearer("sk-guess"), "X-Forwarded-For": "192.0.2.1"})
        assert spoofed.status_code == 429
        assert 1 <= int(spoofed.headers["Retry-After"]) <= 60
        assert spoofed.json()["error"]["code"] == "rate_limit_exceeded"
        assert attacker.get("/v1/models", headers=bearer()).status_code == 429  # never used from there
        assert app.get("/v1/models", headers=bearer()).status_code == 200
