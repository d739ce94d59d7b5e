"""A takedown or a purge done by another process (an admin in another worker, the purge command) is
honoured promptly by every worker of `make run`'s two, even by one that served the image a moment
before: its URL answers 410 Gone, while the images left alone keep serving. On the file cache, and on
Redis when REDIS_URL is set and answers.

Each worker is reached through a keep-alive connection that it accepted (found by the connection's
port among the worker's sockets), so both are asked, not whichever happens to accept.
"""

from __future__ import annotations

import time

import httpx
import psutil
import pytest

from tests.e2e.shared_caches import VARIANTS, cache_url
from tests.fakes.server import png_bytes
from tests.fakes.siliconflow import SiliconFlowFake
from tests.gateway_process import GatewayProcess

pytestmark = pytest.mark.e2e

CLIENT_KEY = "e2e-removal-client-4321"
PROMPTLY = 3.0  # seconds; IMAGE_REMOVAL_CHECK_SECONDS is 1


@pytest.fixture(scope="module", params=VARIANTS)
def gateway(request, tmp_path_factory):
    redis_url = cache_url(request.param)
    fake = SiliconFlowFake(image=png_bytes(48, 32, (30, 60, 90))).start()
    env = {
        "AUTHORIZED_API_KEY": CLIENT_KEY,
        "FLUX_GEN_API_BASE": fake.url + "/v1",
        "FLUX_GEN_MODEL": "flux-schnell",
        "FLUX_GEN_API_KEY": "sk-removal-1111",
        "KEEPALIVE_TIMEOUT": "120",  # the per-worker connections below stay open for the whole test
        "REDIS_URL": redis_url,
    }
    try:
        with GatewayProcess(tmp_path_factory.mktemp("gateway"), env, workers=2, server="gunicorn") as process:
            yield process
    finally:
        fake.stop()


@pytest.fixture(scope="module")
def connections(gateway):
    """One open connection to each of the two workers."""
    by_worker: dict[int, httpx.Client] = {}
    spare: list[httpx.Client] = []
    for _ in range(60):
        client = httpx.Client(base_url=gateway.url, timeout=10)
        response = client.get("/health")
        local_port = response.extensions["network_stream"].get_extra_info("client_addr")[1]
        worker = _worker_with_peer_port(gateway, local_port)
        if worker is not None and worker not in by_worker:
            by_worker[worker] = client
        else:
            spare.append(client)
        if len(by_worker) == 2:
            break
    for client in spare:
        client.close()
    assert len(by_worker) == 2, "could not reach both workers"
    yield list(by_worker.values())
    for client in by_worker.values():
        client.close()


def _worker_with_peer_port(gateway: GatewayProcess, port: int) -> int | None:
    for pid in gateway.worker_pids():
        if any(conn.raddr and conn.raddr.port == port for conn in psutil.Process(pid).net_connections("tcp")):
            return pid
    return None


def generate(gateway: GatewayProcess) -> str:
    response = httpx.post(
        gateway.url + "/v1/images/generations",
        headers={"Authorization": f"Bearer {CLIENT_KEY}"},
        json={"model": "flux-schnell", "prompt": "a lighthouse"},
        timeout=30,
    )
    assert response.status_code == 200, response.text
    return "/images/" + response.json()["data"][0]["url"].rsplit("/images/", 1)[1]


def statuses(connections, path: str) -> list[int]:
    return [client.get(path).status_code for client in connections]


def until_every_worker_answers(connections, path: str, status: int) -> float:
    """Seconds until each worker answers ``status`` for ``path``; fails after PROMPTLY."""
    start = time.monotonic()
    while statuses(connections, path) != [status, status]:
        assert time.monotonic() - start < PROMPTLY, f"{path}: {statuses(connections, path)} after {PROMPTLY} s"
        time.sleep(0.05)
    return time.monotonic() - start


def test_a_takedown_by_another_process_reaches_both_workers(gateway, connections):
    # The fake makes the same bytes each time: both images share one file, which the takedown keeps
    # for the live one, so only each worker's index could go on serving the removed image.
    removed, kept = generate(gateway), generate(gateway)
    assert statuses(connections, removed) == statuses(connections, kept) == [200, 200]  # both workers indexed it

    token = removed.rsplit("/", 1)[1].split(".")[0]
    gateway.python(
        "from proxy.models import StoredImage; from proxy.removal import take_down;"
        f"take_down(StoredImage.objects.filter(token='{token}').values_list('pk', flat=True), by='ops', reason='x')"
    )
    waited = until_every_worker_answers(connections, removed, 410)

    print(f"takedown honoured by both workers {waited:.2f} s after the command returned")
    body = connections[0].get(removed).json()
    assert body["error"]["code"] == "image_removed" and set(body["error"]) == {"message", "type", "param", "code"}
    assert statuses(connections, kept) == [200, 200]


def test_purge_images_expires_what_is_due_in_both_workers_and_leaves_the_rest_serving(gateway, connections):
    due, fresh = generate(gateway), generate(gateway)
    assert statuses(connections, due) == [200, 200]
    token = due.rsplit("/", 1)[1].split(".")[0]
    gateway.python(
        "from django.utils import timezone; from proxy.models import StoredImage;"
        f"StoredImage.objects.filter(token='{token}').update(expires_at=timezone.now())"
    )

    result = gateway.manage("purge_images")

    assert result.returncode == 0 and result.stdout.startswith("Purged 1 expired image(s)"), result.stdout
    until_every_worker_answers(connections, due, 410)
    assert connections[1].get(due).json()["error"]["code"] == "image_expired"
    assert statuses(connections, fresh) == [200, 200]
