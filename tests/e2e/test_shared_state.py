"""`make run`'s shape, two gunicorn workers, agrees on key rotation and cooldowns: whichever worker
serves a request, it starts at the next key in turn and skips a key the other worker saw rate limited.

Run on the embedded default (a file cache under DATA_DIR, no REDIS_URL) and again on Redis when
REDIS_URL is set and answers. Which worker made each vendor call is not guessed: the fake vendor
looks up which of the gateway's processes holds the socket the call came in on.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

import httpx
import psutil
import pytest

from tests.e2e.shared_caches import VARIANTS, cache_url
from tests.fakes.server import bearer
from tests.fakes.siliconflow import SiliconFlowFake
from tests.gateway_process import GatewayProcess

pytestmark = pytest.mark.e2e

CLIENT_KEY = "e2e-shared-state-client-9876"
KEYS = ["sk-shared-one-1111", "sk-shared-two-2222", "sk-shared-three-3333"]
RETRY_AFTER = 6


@dataclass(frozen=True)
class Call:
    key: str
    worker: int  # the pid of the gateway worker that made it
    at: float  # when it arrived (time.monotonic)


class WorkerNotingFake(SiliconFlowFake):
    """SiliconFlow, noting the key and the gateway worker of every image call."""

    def __init__(self):
        super().__init__()
        self.gateway_pid: int | None = None
        self.calls: list[Call] = []

    async def generate(self, request):
        self.calls.append(Call(bearer(request), self._worker_of(request.transport), time.monotonic()))
        return await super().generate(request)

    def _worker_of(self, transport) -> int:
        port = transport.get_extra_info("peername")[1]
        for worker in psutil.Process(self.gateway_pid).children():
            if any(conn.laddr and conn.laddr.port == port for conn in worker.net_connections("tcp")):
                return worker.pid
        return 0


@pytest.fixture(params=VARIANTS)
def gateway(request, tmp_path):
    fake = WorkerNotingFake().start()
    env = {
        "AUTHORIZED_API_KEY": CLIENT_KEY,
        "FLUX_GEN_API_BASE": fake.url + "/v1",
        "FLUX_GEN_MODEL": "flux-schnell",
        "FLUX_GEN_API_KEY": ",".join(KEYS),
        "REDIS_URL": cache_url(request.param),
    }
    try:
        with GatewayProcess(tmp_path / "gateway", env, workers=2, server="gunicorn") as process:
            fake.gateway_pid = process.process.pid
            yield process, fake
            log = process.log()
    finally:
        fake.stop()
    assert not any(secret in log for secret in [*KEYS, CLIENT_KEY]), "a key reached the gateway's log"


def generate(gateway: GatewayProcess) -> None:
    """One image request on a new connection, so that either worker may accept it."""
    response = httpx.post(
        gateway.url + "/v1/images/generations",
        headers={"Authorization": f"Bearer {CLIENT_KEY}", "Connection": "close"},
        json={"model": "flux-schnell", "prompt": "a lighthouse"},
        timeout=30,
    )
    assert response.status_code == 200, response.text


def in_turn_from(first: str, count: int) -> list[str]:
    start = KEYS.index(first)
    return [KEYS[(start + i) % len(KEYS)] for i in range(count)]


def test_sequential_requests_take_the_keys_strictly_in_turn_whichever_worker_serves_them(gateway):
    process, fake = gateway
    for _ in range(30):
        generate(process)

    keys = [call.key for call in fake.calls]
    print("DIST", [c.worker for c in fake.calls])
    workers = [call.worker for call in fake.calls]
    assert keys == in_turn_from(keys[0], 30)
    assert len(set(workers)) == 2 and 0 not in workers, f"not both workers served: {workers}"
    handovers = sum(1 for before, after in zip(workers, workers[1:], strict=False) if before != after)
    assert handovers >= 3, f"the workers took turns too rarely to tell: {workers}"


def test_a_key_that_one_worker_saw_rate_limited_rests_in_the_other_until_retry_after_ends(gateway):
    process, fake = gateway
    resting = KEYS[1]
    fake.retry_after = RETRY_AFTER
    fake.keys = {resting: "rate_limited"}
    while not any(call.key == resting for call in fake.calls):
        generate(process)
    limited = next(call for call in fake.calls if call.key == resting)
    fake.keys = {}  # from now on the key would work: only the shared cooldown keeps it out
    before = len(fake.calls)

    # The gateway starts the rest when the 429 reaches it, a moment after the fake sent it.
    while time.monotonic() < limited.at + RETRY_AFTER - 1.0:
        generate(process)
    during = fake.calls[before:]
    time.sleep(max(0.0, limited.at + RETRY_AFTER + 1.0 - time.monotonic()))
    for _ in range(len(KEYS)):
        generate(process)

    other_worker = [call for call in during if call.worker != limited.worker]
    print("DURING", len(during), len(other_worker))
    assert len(other_worker) >= 3, f"the other worker served too little of the cooldown to tell: {during}"
    assert resting not in [call.key for call in during]
    assert resting in [call.key for call in fake.calls[before + len(during) :]], "the key never came back"
