"""The real gateway with its PostgreSQL and its Redis behind a proxy the test controls: frozen (every
byte held, new connections accepted and never answered) and dropped (connections cut, the port
closed). The API answers 503 service_unavailable within about a second, no vendor is called,
/health names the dependency, and when the proxy works again the gateway recovers by itself.

Runs when the suite itself runs on PostgreSQL (DATABASE_URL) and Redis (REDIS_URL); the in-process
side of the same promises, for any database, is tests/api/test_dependencies_down.py.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import threading
import time
from urllib.parse import urlsplit, urlunsplit

import httpx
import pytest

from tests.fakes.server import png_bytes
from tests.fakes.siliconflow import SiliconFlowFake
from tests.gateway_process import GatewayProcess, free_port

pytestmark = pytest.mark.e2e

CLIENT_KEY = "e2e-dependencies-key-8765"
BOUND = 5.0  # "about a second", with room for a loaded machine
RECOVERY = 30.0  # the PostgreSQL pool reconnects with a backoff
CHAT = {"model": "flux-schnell", "messages": [{"role": "user", "content": "a lighthouse"}]}
ON_POSTGRES = os.environ.get("DATABASE_URL", "").startswith(("postgres://", "postgresql://"))
ON_REDIS = bool(os.environ.get("REDIS_URL"))


class FaultyProxy:
    """A TCP proxy to a real server, on a port of its own, that can freeze, drop and work again."""

    def __init__(self, url: str, default_port: int):
        parts = urlsplit(url)
        self.target = (parts.hostname or "127.0.0.1", parts.port or default_port)
        self.port = free_port()
        self._loop = asyncio.new_event_loop()
        self._connections: set[asyncio.StreamWriter] = set()
        threading.Thread(target=self._loop.run_forever, daemon=True, name="faulty-proxy").start()
        self._flowing = self._run(self._make_event())
        self._server = None
        self.restore()

    def url(self, url: str) -> str:
        parts = urlsplit(url)
        netloc = parts.netloc.rsplit("@", 1)
        host = f"127.0.0.1:{self.port}"
        return urlunsplit(parts._replace(netloc=f"{netloc[0]}@{host}" if len(netloc) == 2 else host))

    def _run(self, coroutine):
        return asyncio.run_coroutine_threadsafe(coroutine, self._loop).result(10)

    @staticmethod
    async def _make_event() -> asyncio.Event:
        return asyncio.Event()

    def freeze(self) -> None:
        self._loop.call_soon_threadsafe(self._flowing.clear)

    def restore(self) -> None:
        """Listen again if dropped, and let every held byte and waiting connection through."""
        if self._server is None:
            self._server = self._run(self._listen())
        self._loop.call_soon_threadsafe(self._flowing.set)

    def drop(self) -> None:
        self._run(self._drop())

    async def _listen(self):
        return await asyncio.start_server(self._handle, "127.0.0.1", self.port, reuse_address=True)

    async def _drop(self) -> None:
        self._server.close()
        self._server = None
        for writer in list(self._connections):
            writer.transport.abort()
        self._connections.clear()

    async def _handle(self, reader, writer) -> None:
        self._connections.add(writer)
        with contextlib.suppress(OSError):
            await self._flowing.wait()
            upstream_reader, upstream_writer = await asyncio.open_connection(*self.target)
            self._connections.add(upstream_writer)
            await asyncio.gather(self._pipe(reader, upstream_writer), self._pipe(upstream_reader, writer))

    async def _pipe(self, reader, writer) -> None:
        try:
            while data := await reader.read(65536):
                await self._flowing.wait()
                writer.write(data)
                await writer.drain()
        finally:
            writer.transport.abort()

    def stop(self) -> None:
        if self._server is not None:
            self.drop()
        self._loop.call_soon_threadsafe(self._loop.stop)


class GatewayBehindProxies(GatewayProcess):
    """A gateway whose DATABASE_URL and REDIS_URL lead through the given proxies."""

    def __init__(self, data_dir, env, proxies: dict[str, FaultyProxy]):
        super().__init__(data_dir, env)
        self.proxies = proxies

    def env(self) -> dict[str, str]:
        env = super().env()
        for name, proxy in self.proxies.items():
            env[name] = proxy.url(env[name])
        return env


@pytest.fixture(scope="module")
def sf():
    with SiliconFlowFake(image=png_bytes(32, 32)) as fake:
        yield fake


@pytest.fixture(scope="module")
def proxies():
    found = {}
    if ON_POSTGRES:
        found["DATABASE_URL"] = FaultyProxy(os.environ["DATABASE_URL"], 5432)
    if ON_REDIS:
        found["REDIS_URL"] = FaultyProxy(os.environ["REDIS_URL"], 6379)
    yield found
    for proxy in found.values():
        proxy.stop()


@pytest.fixture(scope="module")
def gateway(sf, proxies, tmp_path_factory):
    env = {
        "AUTHORIZED_API_KEY": CLIENT_KEY,
        "FLUX_GEN_API_BASE": sf.url + "/v1/images/generations",
        "FLUX_GEN_MODEL": "flux-schnell",
        "FLUX_GEN_API_KEY": "sk-sf-deps-1111",
    }
    with GatewayBehindProxies(tmp_path_factory.mktemp("dependencies"), env, proxies) as process:
        yield process


def api_calls(sf) -> int:
    return len([call for call in sf.requests if call.method == "POST"])


def chat(gateway) -> httpx.Response:
    headers = {"Authorization": f"Bearer {CLIENT_KEY}"}
    return httpx.post(gateway.url + "/v1/chat/completions", json=CHAT, headers=headers, timeout=60)


def assert_prompt_503(gateway, dependency: str) -> None:
    started = time.monotonic()
    response = chat(gateway)
    assert time.monotonic() - started < BOUND
    assert response.status_code == 503, response.text
    assert response.json()["error"]["code"] == "service_unavailable"
    assert dependency in response.json()["error"]["message"]
    assert int(response.headers["Retry-After"]) > 0


def health(gateway) -> tuple[int, dict]:
    started = time.monotonic()
    response = httpx.get(gateway.url + "/health", timeout=30)
    assert time.monotonic() - started < BOUND
    return response.status_code, response.json()


def assert_recovers(gateway, sf) -> None:
    deadline = time.monotonic() + RECOVERY
    while health(gateway)[0] != 200:
        assert time.monotonic() < deadline, f"no recovery in {RECOVERY} s: {health(gateway)[1]}"
        time.sleep(0.5)
    calls = api_calls(sf)
    response = chat(gateway)
    while response.status_code == 503 and time.monotonic() < deadline:  # a pooled connection cut earlier
        time.sleep(0.5)
        response = chat(gateway)
    assert response.status_code == 200, response.text
    assert api_calls(sf) == calls + 1


CASES = [
    pytest.param("DATABASE_URL", "database", marks=pytest.mark.skipif(not ON_POSTGRES, reason="needs PostgreSQL")),
    pytest.param("REDIS_URL", "cache", marks=pytest.mark.skipif(not ON_REDIS, reason="needs Redis")),
]


@pytest.mark.parametrize(("variable", "dependency"), CASES)
def test_a_frozen_dependency_is_a_prompt_503_named_in_health_and_the_gateway_recovers(
    gateway, proxies, sf, variable, dependency
):
    assert chat(gateway).status_code == 200  # connections to it are open and pooled
    calls = api_calls(sf)
    proxies[variable].freeze()
    try:
        assert_prompt_503(gateway, dependency)
        status, body = health(gateway)
        assert status == 503
        assert body["checks"][dependency] == "timeout"
        assert [state for name, state in body["checks"].items() if name != dependency] == ["ok", "ok"]
        assert api_calls(sf) == calls
    finally:
        proxies[variable].restore()
    assert_recovers(gateway, sf)


@pytest.mark.parametrize(("variable", "dependency"), CASES)
def test_a_dropped_dependency_is_a_prompt_503_named_in_health_and_the_gateway_recovers(
    gateway, proxies, sf, variable, dependency
):
    assert chat(gateway).status_code == 200
    calls = api_calls(sf)
    proxies[variable].drop()
    try:
        assert_prompt_503(gateway, dependency)
        assert_prompt_503(gateway, dependency)  # and again, once the pooled connections are gone
        status, body = health(gateway)
        assert status == 503
        assert body["checks"][dependency] in {"unreachable", "timeout"}
        assert api_calls(sf) == calls
    finally:
        proxies[variable].restore()
    assert_recovers(gateway, sf)
