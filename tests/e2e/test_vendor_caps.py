"""Vendor caps against the real server: a capped SiliconFlow fake that holds its calls, and one spare vendor.

The caps are set on the gateway's own database (as an operator would in admin); its workers read them within
ROUTING_CACHE_SECONDS. The fake counts the calls it is answering at once, and which worker sent each.
"""

from __future__ import annotations

import json
import time
from concurrent.futures import ThreadPoolExecutor

import httpx
import pytest

from tests.e2e.ledger_rows import ledger
from tests.e2e.shared_caches import VARIANTS, cache_url
from tests.e2e.test_shared_state import WorkerNotingFake
from tests.fakes.siliconflow import SiliconFlowFake
from tests.gateway_process import GatewayProcess

pytestmark = pytest.mark.e2e

CLIENT_KEY = "e2e-caps-client-key-5150"
AUTH = {"Authorization": f"Bearer {CLIENT_KEY}", "Connection": "close"}
QUEUE_WAIT = 2.0
ROUTING = 0.2


class HoldingFake(WorkerNotingFake):
    """SiliconFlow that counts the image calls it is answering right now, and the most at once."""

    def __init__(self):
        super().__init__()
        self.running = 0
        self.peak = 0

    async def generate(self, request):
        self.running += 1
        self.peak = max(self.peak, self.running)
        try:
            return await super().generate(request)
        finally:
            self.running -= 1


def gateway_env(fake: SiliconFlowFake, **extra: str) -> dict[str, str]:
    return {
        "AUTHORIZED_API_KEY": CLIENT_KEY,
        "VENDOR_QUEUE_WAIT": str(QUEUE_WAIT),
        "ROUTING_CACHE_SECONDS": str(ROUTING),
        "STREAM_HEARTBEAT_SECONDS": "0.5",
        "FLUX_GEN_API_BASE": fake.url + "/v1",
        "FLUX_GEN_MODEL": "flux-schnell",
        "FLUX_GEN_API_KEY": "sk-caps-sf-1111",
        **extra,
    }


def set_caps(gateway: GatewayProcess, *, rpm: int | None = None, concurrent: int | None = None, fallback: str = ""):
    gateway.python(
        "from vendors.models import ImageModel, Vendor\n"
        f"Vendor.objects.filter(models__name='flux-schnell').update(requests_per_minute={rpm!r}, "
        f"max_concurrent_calls={concurrent!r})\n"
        f"ImageModel.objects.filter(name='flux-schnell').update(fallback=ImageModel.objects.filter(name={fallback!r}).first())"
    )
    time.sleep(ROUTING * 3)  # every worker's routing table has been rebuilt


@pytest.fixture(scope="module")
def fakes():
    sf, spare = HoldingFake().start(), SiliconFlowFake().start()
    yield sf, spare
    sf.stop()
    spare.stop()


@pytest.fixture(scope="module")
def gateway(fakes, tmp_path_factory):
    sf, spare = fakes
    env = gateway_env(
        sf,
        IMAGE_GEN_API_BASE_1=spare.url + "/v1",
        IMAGE_GEN_KIND_1="siliconflow",
        IMAGE_GEN_MODEL_1="spare",
        IMAGE_GEN_API_KEY_1="sk-caps-spare-2222",
    )
    with GatewayProcess(tmp_path_factory.mktemp("gateway"), env) as process:
        sf.gateway_pid = process.process.pid
        yield process
        log = process.log()
    assert not any(secret in log for secret in ("sk-caps-sf-1111", "sk-caps-spare-2222", CLIENT_KEY))


@pytest.fixture
def sf(fakes, gateway):
    sf = fakes[0]
    sf.peak, sf.latency = 0, 0.0
    yield sf
    sf.latency = 0.0
    wait_until(lambda: sf.running == 0, 10)
    set_caps(gateway)


def wait_until(condition, seconds: float = 5.0) -> None:
    deadline = time.monotonic() + seconds
    while not condition():
        assert time.monotonic() < deadline, "timed out waiting"
        time.sleep(0.02)


def image_calls(fake: SiliconFlowFake) -> int:
    return len([r for r in fake.requests if r.path == "/v1/images/generations"])


def post_image(gateway: GatewayProcess, prompt: str = "a lighthouse") -> httpx.Response:
    body = {"model": "flux-schnell", "prompt": prompt}
    return httpx.post(gateway.url + "/v1/images/generations", headers=AUTH, json=body, timeout=60)


def stream_body(prompt: str) -> dict:
    return {"model": "flux-schnell", "stream": True, "messages": [{"role": "user", "content": prompt}]}


def reasoning(lines: list[str]) -> str:
    chunks = [json.loads(line[6:]) for line in lines if line.startswith("data: {")]
    return "".join(c["choices"][0]["delta"].get("reasoning_content", "") for c in chunks if c.get("choices"))


def test_no_more_calls_run_at_once_than_the_cap_and_the_others_wait_their_turn(gateway, sf):
    set_caps(gateway, concurrent=2)
    sf.latency = 0.5

    with ThreadPoolExecutor(5) as pool:
        replies = list(pool.map(lambda i: post_image(gateway, f"a lighthouse {i}"), range(5)))

    assert [reply.status_code for reply in replies] == [200] * 5
    assert sf.peak == 2


def test_past_the_requests_per_minute_a_request_waits_then_gets_503_vendor_busy_with_retry_after(gateway, sf):
    set_caps(gateway, rpm=3)
    before = image_calls(sf)
    assert [post_image(gateway, f"a boat {i}").status_code for i in range(3)] == [200] * 3

    started = time.monotonic()
    reply = post_image(gateway, "one boat too many")
    waited = time.monotonic() - started

    assert reply.status_code == 503
    error = reply.json()["error"]
    assert error["code"] == "vendor_busy" and error["type"] and error["param"] is None
    assert "nothing was sent" in error["message"] and "sk-caps" not in error["message"]
    assert 1 <= int(reply.headers["Retry-After"]) <= 61
    assert waited >= QUEUE_WAIT  # it waited its turn first
    assert image_calls(sf) - before == 3
    busy = ledger(gateway)[-1]  # recorded as failed, with no attempt: nothing was sent, nothing is owed
    assert (busy["status"], busy["error_code"], busy["attempts"]) == ("failed", "vendor_busy", [])


def test_a_streamed_request_shows_its_place_in_the_queue_then_gets_its_image(gateway, sf):
    set_caps(gateway, concurrent=1)
    sf.latency = 1.0
    with ThreadPoolExecutor(1) as pool:
        first = pool.submit(post_image, gateway, "the first lighthouse")
        wait_until(lambda: sf.running == 1)
        with httpx.stream(
            "POST", gateway.url + "/v1/chat/completions", json=stream_body("a queued lighthouse"), headers=AUTH
        ) as reply:
            lines = [line for line in reply.iter_lines() if line]

    assert first.result().status_code == 200
    steps = reasoning(lines)
    assert "is at its limit; waiting in its queue at position 1." in steps
    assert steps.index("waiting in its queue") < steps.index("Storing the image.")
    assert lines[-1] == "data: [DONE]" and '"finish_reason":"stop"' in "".join(lines)
    assert sf.peak == 1


def test_a_client_that_hangs_up_frees_its_slot_and_its_place_in_the_queue(gateway, sf):
    set_caps(gateway, concurrent=1)
    sf.latency = 4.0
    url = gateway.url + "/v1/chat/completions"
    with httpx.stream("POST", url, json=stream_body("a slow lighthouse"), headers=AUTH, timeout=30) as holder:
        holder_lines = holder.iter_lines()
        next(holder_lines)
        wait_until(lambda: sf.running == 1)
        # A second client queues behind it, then leaves too.
        with httpx.stream("POST", url, json=stream_body("a waiting lighthouse"), headers=AUTH, timeout=30) as waiter:
            waiting = []
            for line in waiter.iter_lines():
                waiting.append(line)
                if "waiting in its queue" in reasoning(waiting):
                    break
    wait_until(lambda: sf.running == 0)  # the gateway dropped the holder's call
    sf.latency = 0.2

    started = time.monotonic()
    reply = post_image(gateway, "right after")

    # Had the slot (leased for the vendor's timeout) or the waiter's ticket stayed, this would wait and fail.
    assert reply.status_code == 200
    assert time.monotonic() - started < QUEUE_WAIT


def test_a_fallback_model_on_another_vendor_serves_at_once_instead_of_waiting(gateway, sf, fakes):
    spare = fakes[1]
    set_caps(gateway, concurrent=1, fallback="spare")
    sf.latency = 3.0
    spare_before = image_calls(spare)
    with ThreadPoolExecutor(1) as pool:
        first = pool.submit(post_image, gateway, "the first lighthouse")
        wait_until(lambda: sf.running == 1)
        started = time.monotonic()
        reply = post_image(gateway, "a lighthouse elsewhere")
        took = time.monotonic() - started
        assert first.result().status_code == 200

    assert reply.status_code == 200 and reply.json()["model"] == "spare"
    assert any("fallback model spare" in note for note in reply.json()["notes"])
    assert took < 2.0 and image_calls(spare) == spare_before + 1


@pytest.fixture(params=VARIANTS)
def two_workers(request, tmp_path):
    fake = HoldingFake().start()
    redis_url = cache_url(request.param)
    env = gateway_env(fake, VENDOR_QUEUE_WAIT="15", REDIS_URL=redis_url)
    try:
        with GatewayProcess(tmp_path / "gateway", env, workers=2, server="gunicorn") as process:
            fake.gateway_pid = process.process.pid
            yield process, fake
    finally:
        fake.stop()


def test_the_concurrency_cap_holds_across_two_workers(two_workers):
    gateway, fake = two_workers
    set_caps(gateway, concurrent=2)
    fake.latency = 0.6

    with ThreadPoolExecutor(10) as pool:
        replies = list(pool.map(lambda i: post_image(gateway, f"a harbour {i}"), range(10)))

    assert [reply.status_code for reply in replies] == [200] * 10
    workers = {call.worker for call in fake.calls}
    assert len(workers) == 2 and 0 not in workers, f"not both workers called the vendor: {workers}"
    assert fake.peak == 2
