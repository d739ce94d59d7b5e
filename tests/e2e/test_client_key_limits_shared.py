"""A client key's requests per minute and generations in flight hold across `make run`'s two gunicorn
workers: counted once for the key, whichever worker serves. In-flight slots come back when a client
hangs up mid-stream, and when the worker holding one is killed (after the slot's lease).

Which worker serves a request is not left to chance: each test opens connections and looks up which
worker accepted each (the worker process holding the socket), then sends requests on chosen ones.
Run on the embedded file cache, and again on Redis when REDIS_URL is set and answers.
"""

from __future__ import annotations

import contextlib
import http.client
import json
import os
import signal
import threading
import time

import psutil
import pytest

from tests.e2e.shared_caches import VARIANTS, cache_url
from tests.fakes.siliconflow import SiliconFlowFake
from tests.gateway_process import GatewayProcess

pytestmark = pytest.mark.e2e

CLIENT_KEY = "e2e-limits-client-key-5555"
LEASE = 3


@pytest.fixture(params=VARIANTS)
def gateway(request, tmp_path):
    fake = SiliconFlowFake().start()
    env = {
        "AUTHORIZED_API_KEY": CLIENT_KEY,
        "FLUX_GEN_API_BASE": fake.url + "/v1",
        "FLUX_GEN_MODEL": "flux-schnell",
        "FLUX_GEN_API_KEY": "sk-limits-vendor-1111",
        "CLIENT_KEY_SLOT_LEASE": str(LEASE),
        "REDIS_URL": cache_url(request.param),
    }
    try:
        with GatewayProcess(tmp_path / "gateway", env, workers=2, server="gunicorn") as process:
            yield process, fake
    finally:
        fake.stop()


def limit_the_key(gateway: GatewayProcess, **limits) -> None:
    """Sets limits on the imported AUTHORIZED_API_KEY row before any worker has read the keys."""
    values = ", ".join(f"{name}={value!r}" for name, value in limits.items())
    gateway.python(f"from imagegen.models import ClientKey; ClientKey.objects.update({values})")


class Pinned:
    """A keep-alive connection to the gateway, and the pid of the worker that accepted it."""

    def __init__(self, gateway: GatewayProcess):
        self.connection = http.client.HTTPConnection("127.0.0.1", gateway.port, timeout=30)
        self.connection.connect()
        port = self.connection.sock.getsockname()[1]
        self.worker = _worker_holding(gateway, port)

    def post(self, path: str, body: dict) -> tuple[int, dict[str, str], bytes]:
        headers = {"Authorization": f"Bearer {CLIENT_KEY}", "Content-Type": "application/json"}
        self.connection.request("POST", path, body=json.dumps(body), headers=headers)
        response = self.connection.getresponse()
        return response.status, {k.lower(): v for k, v in response.getheaders()}, response.read()

    def image(self) -> tuple[int, dict[str, str], bytes]:
        return self.post("/v1/images/generations", {"model": "flux-schnell", "prompt": "a lighthouse"})


def _worker_holding(gateway: GatewayProcess, client_port: int) -> int:
    # Generous: a worker the master has just started again (after a test killed one) may take seconds to
    # boot and accept on a CI machine running the suite on both cores.
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        for pid in gateway.worker_pids():
            connections = psutil.Process(pid).net_connections("tcp")
            if any(conn.raddr and conn.raddr.port == client_port for conn in connections):
                return pid
        time.sleep(0.02)
    raise AssertionError("no gateway worker accepted the connection")


def connections_on_both_workers(gateway: GatewayProcess, each: int) -> tuple[list[Pinned], list[Pinned]]:
    """``each`` connections accepted by one worker and ``each`` by the other."""
    by_worker: dict[int, list[Pinned]] = {pid: [] for pid in gateway.worker_pids()}
    for _ in range(60):
        pinned = Pinned(gateway)
        by_worker.setdefault(pinned.worker, []).append(pinned)
        if all(len(pins) >= each for pins in by_worker.values()):
            first, second = by_worker.values()
            return first[:each], second[:each]
    raise AssertionError(f"the workers did not both accept connections: {by_worker}")


def in_thread(pinned: Pinned, results: list) -> threading.Thread:
    thread = threading.Thread(target=lambda: results.append(pinned.image()))
    thread.start()
    return thread


def wait_for(condition, seconds: float) -> None:
    deadline = time.monotonic() + seconds
    while not condition() and time.monotonic() < deadline:
        time.sleep(0.02)
    assert condition()


def test_requests_per_minute_are_counted_once_for_both_workers(gateway):
    process, fake = gateway
    limit_the_key(process, requests_per_minute=4)
    if 60 - time.time() % 60 < 10:  # one clock minute for the whole test
        time.sleep(60 - time.time() % 60 + 0.1)
    (a1, a2, a3), (b1, b2, b3) = connections_on_both_workers(process, 3)

    answers = [pinned.image() for pinned in (a1, b1, a2, b2, a3, b3)]

    assert [status for status, _, _ in answers] == [200, 200, 200, 200, 429, 429]
    assert [headers["x-ratelimit-remaining-requests"] for _, headers, _ in answers] == ["3", "2", "1", "0", "0", "0"]
    assert json.loads(answers[5][2])["error"]["code"] == "rate_limit_exceeded"
    assert 1 <= int(answers[5][1]["retry-after"]) <= 60
    assert len(fake.keys_used()) == 4


def test_generations_in_flight_are_counted_once_for_both_workers(gateway):
    process, fake = gateway
    limit_the_key(process, max_in_flight=2)
    (a1, a2), (b1, b2) = connections_on_both_workers(process, 2)
    fake.latency = 2.0
    slow: list = []
    threads = [in_thread(a1, slow), in_thread(b1, slow)]
    wait_for(lambda: fake.in_flight == 2, 5)

    refused = [a2.image(), b2.image()]  # each worker holds one: a count per worker would let these in
    for thread in threads:
        thread.join()

    assert [status for status, _, _ in refused] == [429, 429]
    assert {json.loads(body)["error"]["code"] for _, _, body in refused} == {"rate_limit_exceeded"}
    assert [status for status, _, _ in slow] == [200, 200]
    fake.latency = 0
    assert [a2.image()[0], b2.image()[0]] == [200, 200]  # both slots came back


def test_a_client_that_hangs_up_mid_stream_gives_its_slot_back(gateway):
    process, fake = gateway
    limit_the_key(process, max_in_flight=1)
    (a1,), (b1,) = connections_on_both_workers(process, 1)
    fake.latency = 30.0
    body = {"model": "flux-schnell", "messages": [{"role": "user", "content": "a fox"}], "stream": True}
    a1.connection.request("POST", "/v1/chat/completions", json.dumps(body), {"Authorization": f"Bearer {CLIENT_KEY}"})
    stream = a1.connection.getresponse()
    assert stream.status == 200 and stream.readline().startswith(b"data:")
    wait_for(lambda: fake.in_flight == 1, 5)
    assert b1.image()[0] == 429

    a1.connection.sock.shutdown(2)  # the client goes away
    a1.connection.close()
    wait_for(lambda: fake.in_flight == 0, 5)
    fake.latency = 0
    wait_for(lambda: b1.image()[0] == 200, 5)


def test_the_slot_of_a_killed_worker_comes_back_after_its_lease(gateway):
    process, fake = gateway
    limit_the_key(process, max_in_flight=1)
    (a1,), (b1,) = connections_on_both_workers(process, 1)
    fake.latency = 60.0
    threading.Thread(target=lambda: _ignore_failure(a1.image), daemon=True).start()
    wait_for(lambda: fake.in_flight == 1, 5)

    os.kill(a1.worker, signal.SIGKILL)
    killed_at = time.monotonic()
    fake.latency = 0
    assert b1.image()[0] == 429  # the dead worker's lease still runs
    wait_for(lambda: b1.image()[0] == 200, LEASE + 5)
    assert time.monotonic() - killed_at <= LEASE + 5


def _ignore_failure(call) -> None:
    with contextlib.suppress(OSError, http.client.HTTPException):  # the worker serving it was killed
        call()
