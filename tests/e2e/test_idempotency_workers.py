"""Idempotency-Key across processes: `make run`'s shape, two gunicorn workers, one database.

Two identical requests are sent at once, one to each worker: which worker holds a connection is not
guessed, it is looked up (psutil) before the request goes on it. The vendor is slow, so the second
request arrives while the first is in flight, in the other process. Runs on SQLite, and on a fresh
PostgreSQL database when DATABASE_URL points at one.
"""

from __future__ import annotations

import json
import re
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from http.client import HTTPConnection

import httpx
import openai
import psutil
import pytest

from tests.e2e.ledger_rows import ledger
from tests.fakes.siliconflow import SiliconFlowFake
from tests.gateway_process import GatewayProcess

pytestmark = pytest.mark.e2e

CLIENT_KEY = "e2e-idempotency-client-5555"
VENDOR_KEY = "sk-idempotency-sf-1111"
LATENCY = 1.5  # long enough for the duplicate to arrive while the first is in flight
IMAGE_LINK = re.compile(r"!\[image\]\((?P<url>[^)]+)\)")


@dataclass(frozen=True)
class Answer:
    status: int
    headers: dict[str, str]
    body: bytes

    def json(self) -> dict:
        return json.loads(self.body)


@pytest.fixture(scope="module")
def gateway(tmp_path_factory):
    fake = SiliconFlowFake(latency=LATENCY).start()
    env = {
        "AUTHORIZED_API_KEY": CLIENT_KEY,
        "FLUX_GEN_API_BASE": fake.url + "/v1",
        "FLUX_GEN_MODEL": "flux-schnell",
        "FLUX_GEN_API_KEY": VENDOR_KEY,
        "REDIS_URL": "",
    }
    try:
        with GatewayProcess(tmp_path_factory.mktemp("gateway"), env, workers=2, server="gunicorn") as process:
            yield process, fake
            log = process.log()
    finally:
        fake.stop()
    assert CLIENT_KEY not in log and VENDOR_KEY not in log, "a key reached the gateway's log"


def _holder(port: int, workers: list[int]) -> int | None:
    """The worker whose end of the connection from our local ``port`` it is."""
    for pid in workers:
        if any(conn.raddr and conn.raddr.port == port for conn in psutil.Process(pid).net_connections("tcp")):
            return pid
    return None


def one_connection_per_worker(gateway: GatewayProcess) -> list[HTTPConnection]:
    workers, held, spare = gateway.worker_pids(), {}, []
    deadline = time.monotonic() + 15
    while len(held) < len(workers) and time.monotonic() < deadline:
        conn = HTTPConnection("127.0.0.1", gateway.port, timeout=60)
        conn.connect()
        port, pid, until = conn.sock.getsockname()[1], None, time.monotonic() + 2
        while pid is None and time.monotonic() < until:  # the worker accepts it a moment later
            pid = _holder(port, workers)
        (spare if pid is None or pid in held else []).append(conn)
        if pid is not None and pid not in held:
            held[pid] = conn
    for conn in spare:
        conn.close()
    assert len(held) == 2, "could not reach both workers"
    return list(held.values())


def send(conn: HTTPConnection, path: str, body: dict, key: str) -> Answer:
    headers = {"Authorization": f"Bearer {CLIENT_KEY}", "Content-Type": "application/json", "Idempotency-Key": key}
    conn.request("POST", path, body=json.dumps(body), headers=headers)
    response = conn.getresponse()
    answer = Answer(response.status, {k.lower(): v for k, v in response.getheaders()}, response.read())
    conn.close()
    return answer


def at_once_on_both_workers(gateway: GatewayProcess, path: str, body: dict, key: str) -> list[Answer]:
    connections = one_connection_per_worker(gateway)
    with ThreadPoolExecutor(len(connections)) as pool:
        return list(pool.map(lambda conn: send(conn, path, body, key), connections))


def vendor_calls(fake: SiliconFlowFake) -> int:
    return len([request for request in fake.requests if request.path == "/v1/images/generations"])


def test_two_identical_requests_on_two_workers_pay_one_vendor_call_and_get_the_same_images(gateway):
    process, fake = gateway
    before = vendor_calls(fake)
    body = {"model": "flux-schnell", "prompt": "a lighthouse at dusk", "n": 2}

    answers = at_once_on_both_workers(process, "/v1/images/generations", body, "e2e-images-1")

    assert [answer.status for answer in answers] == [200, 200], [answer.body for answer in answers]
    assert vendor_calls(fake) == before + 1
    urls = [[item["url"] for item in answer.json()["data"]] for answer in answers]
    assert urls[0] == urls[1] and len(urls[0]) == 2
    assert sorted(answer.headers.get("idempotent-replayed", "") for answer in answers) == ["", "true"]
    assert all(httpx.get(url).status_code == 200 for url in urls[0])
    assert len([row for row in ledger(process) if row["images"] == 2]) == 1

    # The same key with another body, on either worker: 409, nothing generated.
    reused = send(one_connection_per_worker(process)[0], "/v1/images/generations", {**body, "n": 1}, "e2e-images-1")
    assert reused.status == 409 and reused.json()["error"]["code"] == "idempotency_key_reused"
    assert vendor_calls(fake) == before + 1


def test_two_identical_streams_on_two_workers_pay_once_and_stream_the_same_answer(gateway):
    process, fake = gateway
    before = vendor_calls(fake)
    body = {"model": "flux-schnell", "messages": [{"role": "user", "content": "a red kite"}], "stream": True}

    answers = at_once_on_both_workers(process, "/v1/chat/completions", body, "e2e-stream-1")

    assert [answer.status for answer in answers] == [200, 200]
    assert vendor_calls(fake) == before + 1
    contents = [streamed_content(answer.body) for answer in answers]
    assert contents[0] == contents[1] and IMAGE_LINK.search(contents[0])
    assert all(answer.body.endswith(b"data: [DONE]\n\n") for answer in answers)


def test_a_client_that_hangs_up_gets_the_answer_when_it_retries_with_its_key(gateway):
    process, fake = gateway
    before = vendor_calls(fake)
    body = {"model": "flux-schnell", "prompt": "a paper boat"}
    conn = one_connection_per_worker(process)[0]
    headers = {"Authorization": f"Bearer {CLIENT_KEY}", "Content-Type": "application/json", "Idempotency-Key": "e2e-3"}
    conn.request("POST", "/v1/images/generations", body=json.dumps(body), headers=headers)
    time.sleep(LATENCY / 3)  # the vendor has the request
    conn.close()  # the client's connection drops

    retried = send(one_connection_per_worker(process)[0], "/v1/images/generations", body, "e2e-3")

    assert retried.status == 200, retried.body
    assert retried.headers.get("idempotent-replayed") == "true"
    assert vendor_calls(fake) == before + 1


def test_the_openai_package_sends_the_key_and_gets_the_same_images_twice(gateway):
    process, fake = gateway
    before = vendor_calls(fake)
    client = openai.OpenAI(base_url=process.url + "/v1", api_key=CLIENT_KEY, max_retries=0)
    key = {"Idempotency-Key": "e2e-openai-1"}

    first = client.images.generate(model="flux-schnell", prompt="a windmill", extra_headers=key)
    again = client.images.with_raw_response.generate(model="flux-schnell", prompt="a windmill", extra_headers=key)

    assert again.headers["idempotent-replayed"] == "true"
    assert [image.url for image in again.parse().data] == [image.url for image in first.data]
    assert vendor_calls(fake) == before + 1
    with pytest.raises(openai.ConflictError) as refused:
        client.images.generate(model="flux-schnell", prompt="a watermill", extra_headers=key)
    assert refused.value.code == "idempotency_key_reused"


_PRINT_RECORDS = """
import json
from imagegen.models import Generation, IdempotencyRecord
print(json.dumps({
    "records": [[r.key, r.state, len((r.answer or {}).get("images", []))] for r in IdempotencyRecord.objects.all()],
    "ledger": [row.status for row in Generation.objects.all()],
}))
"""


def test_a_shutdown_waits_for_a_request_whose_client_left_and_its_answer_is_stored(tmp_path):
    fake = SiliconFlowFake(latency=LATENCY).start()
    env = {
        "AUTHORIZED_API_KEY": CLIENT_KEY,
        "FLUX_GEN_API_BASE": fake.url + "/v1",
        "FLUX_GEN_MODEL": "flux-schnell",
        "FLUX_GEN_API_KEY": VENDOR_KEY,
        "REDIS_URL": "",
    }
    try:
        with GatewayProcess(tmp_path / "gateway", env, workers=1, server="gunicorn") as process:
            conn = HTTPConnection("127.0.0.1", process.port, timeout=60)
            headers = {"Authorization": f"Bearer {CLIENT_KEY}", "Content-Type": "application/json"}
            body = json.dumps({"model": "flux-schnell", "prompt": "a harbour"})
            conn.request("POST", "/v1/images/generations", body=body, headers={**headers, "Idempotency-Key": "e2e-4"})
            time.sleep(LATENCY / 3)
            conn.close()  # the client leaves; then the gateway is stopped while the vendor works
            process.restart()  # SIGTERM, wait for the exit, start again on the same data
            state = json.loads(process.python(_PRINT_RECORDS).strip().splitlines()[-1])
            retried = httpx.post(
                process.url + "/v1/images/generations", content=body, headers={**headers, "Idempotency-Key": "e2e-4"}
            )
    finally:
        fake.stop()

    assert state == {"records": [["e2e-4", "done", 1]], "ledger": ["success"]}
    assert retried.status_code == 200 and retried.headers["idempotent-replayed"] == "true"
    assert vendor_calls(fake) == 1


def streamed_content(raw: bytes) -> str:
    events = [json.loads(line[6:]) for line in raw.decode().split("\n\n") if line.startswith("data: {")]
    return "".join(event["choices"][0]["delta"].get("content") or "" for event in events if event.get("choices"))
