"""SIGTERM and kill -9 against the gateway as `make run` serves it: gunicorn, the gateway's worker, a slow vendor.

What must hold: paid work that can finish within SHUTDOWN_GRACE_SECONDS finishes and is answered; work that
cannot is cut with an answer (an error event and [DONE] for a stream) and recorded interrupted; nothing new is
accepted once the shutdown began; and a worker that dies leaves a ledger row that is marked interrupted, never
a missing one.
"""

from __future__ import annotations

import json
import os
import signal
import socket
import threading
import time

import httpx
import pytest

from tests.e2e.ledger_rows import ledger, ledger_when
from tests.fakes.siliconflow import SiliconFlowFake
from tests.gateway_process import GatewayProcess

pytestmark = pytest.mark.e2e

CLIENT_KEY = "e2e-shutdown-client-key-9876"
GRACE = 6  # SHUTDOWN_GRACE_SECONDS: the worker cuts what still runs 1.5 s before gunicorn's kill at 6 s
HEADERS = {"Authorization": f"Bearer {CLIENT_KEY}"}


@pytest.fixture(scope="module")
def sf():
    with SiliconFlowFake() as fake:
        yield fake


@pytest.fixture(scope="module")
def served(sf, tmp_path_factory):
    env = {
        "AUTHORIZED_API_KEY": CLIENT_KEY,
        "SHUTDOWN_GRACE_SECONDS": str(GRACE),
        "STREAM_HEARTBEAT_SECONDS": "0.5",
        "FLUX_GEN_API_BASE": sf.url + "/v1",
        "FLUX_GEN_MODEL": "flux-schnell",
        "FLUX_GEN_API_KEY": "sk-shutdown-sf-1111",
    }
    with GatewayProcess(tmp_path_factory.mktemp("gateway"), env, server="gunicorn") as process:
        yield process


@pytest.fixture
def gateway(served, sf):
    """The module's gateway, serving (a test that stopped it gets it back), with a clean vendor."""
    deadline = time.monotonic() + 10
    while sf.in_flight and time.monotonic() < deadline:  # calls a killed gateway dropped are winding down
        time.sleep(0.05)
    if not served.running():
        served.restart()
    yield served
    sf.latency = 0.0


def in_background(work) -> dict:
    """Run ``work()`` in a thread; the dict gets its "result" or "error", and "thread"."""
    outcome: dict = {}

    def run():
        try:
            outcome["result"] = work()
        except Exception as exc:  # the test looks at it
            outcome["error"] = exc

    outcome["thread"] = threading.Thread(target=run, daemon=True)
    outcome["thread"].start()
    return outcome


def until_the_vendor_is_working(sf, timeout=10.0) -> None:
    deadline = time.monotonic() + timeout
    while sf.in_flight == 0:
        assert time.monotonic() < deadline, "the vendor never got the call"
        time.sleep(0.02)


def chat_body(**extra) -> dict:
    return {"model": "flux-schnell", "messages": [{"role": "user", "content": "a lighthouse"}], **extra}


def stream_events(gateway) -> list[tuple[float, dict | str]]:
    """The stream's data events as (monotonic time, parsed JSON or "[DONE]")."""
    events = []
    with httpx.stream(
        "POST", gateway.url + "/v1/chat/completions", json=chat_body(stream=True), headers=HEADERS
    ) as reply:
        for line in reply.iter_lines():
            if line.startswith("data: "):
                data = line[6:]
                events.append((time.monotonic(), data if data == "[DONE]" else json.loads(data)))
    return events


def refuses_connections(gateway) -> bool:
    try:
        socket.create_connection(("127.0.0.1", gateway.port), timeout=2).close()
    except ConnectionRefusedError:
        return True
    return False


def test_sigterm_lets_a_plain_generation_finish_and_answer_while_refusing_new_connections(gateway, sf):
    sf.latency = 3.0
    call = in_background(
        lambda: httpx.post(gateway.url + "/v1/chat/completions", json=chat_body(), headers=HEADERS, timeout=30)
    )
    until_the_vendor_is_working(sf)

    gateway.process.send_signal(signal.SIGTERM)
    time.sleep(0.5)
    refused_while_draining = refuses_connections(gateway)
    call["thread"].join(15)

    assert refused_while_draining
    reply = call["result"]
    assert reply.status_code == 200, reply.text
    assert "![image](" in reply.json()["choices"][0]["message"]["content"]
    assert gateway.process.wait(GRACE + 5) == 0  # it then stopped by itself, well within the grace
    [row] = ledger(gateway)[-1:]
    assert (row["status"], row["images"], [a["outcome"] for a in row["attempts"]]) == ("success", 1, ["ok"])


def test_sigterm_ends_a_stream_that_outlasts_the_grace_with_an_error_event_and_done(gateway, sf):
    sf.latency = 30.0
    stream = in_background(lambda: stream_events(gateway))
    until_the_vendor_is_working(sf)

    signalled = time.monotonic()
    gateway.process.send_signal(signal.SIGTERM)
    stream["thread"].join(GRACE + 5)

    *_, (error_at, error_event), (_, done) = stream["result"]
    assert error_event["error"]["code"] == "server_shutting_down" and error_event["error"]["type"] == "server_error"
    assert done == "[DONE]"
    assert GRACE - 3 < error_at - signalled < GRACE  # at the worker's deadline, before gunicorn's kill
    assert gateway.process.wait(5) == 0
    row = ledger(gateway)[-1]
    assert (row["status"], row["error_code"]) == ("interrupted", "server_shutting_down")
    assert row["attempts"] == [{"key": row["attempts"][0]["key"], "outcome": "interrupted", "sent": None}]


def test_a_worker_killed_mid_generation_leaves_a_pending_row_that_its_replacement_marks_interrupted(gateway, sf):
    sf.latency = 30.0
    call = in_background(
        lambda: httpx.post(gateway.url + "/v1/chat/completions", json=chat_body(), headers=HEADERS, timeout=30)
    )
    until_the_vendor_is_working(sf)
    [worker] = gateway.worker_pids()

    before = ledger(gateway)[-1]
    os.kill(worker, signal.SIGKILL)
    call["thread"].join(10)

    assert (before["status"], before["attempts"][0]["outcome"]) == ("pending", "")
    assert f"/{worker}:" in before["worker"]  # the row names the process that was working on it
    assert isinstance(call.get("error"), httpx.HTTPError)  # the client lost its connection
    rows = ledger_when(gateway, lambda rows: rows[-1]["status"] != "pending")
    assert (rows[-1]["status"], rows[-1]["error_code"]) == ("interrupted", "worker_lost")
    assert rows[-1]["attempts"][0]["outcome"] == "interrupted"
    assert gateway.worker_pids() != [worker]  # gunicorn replaced it, and the replacement did the marking


def test_a_gateway_killed_outright_leaves_a_pending_row_that_recover_ledger_marks_interrupted(gateway, sf):
    sf.latency = 30.0
    in_background(
        lambda: httpx.post(gateway.url + "/v1/chat/completions", json=chat_body(), headers=HEADERS, timeout=30)
    )
    until_the_vendor_is_working(sf)
    workers = gateway.worker_pids()

    gateway.process.kill()
    for worker in workers:
        os.kill(worker, signal.SIGKILL)
    gateway.process.wait(5)

    assert ledger(gateway)[-1]["status"] == "pending"
    result = gateway.manage("recover_ledger")
    assert result.returncode == 0 and "1 pending row(s)" in result.stdout
    row = ledger(gateway)[-1]
    assert (row["status"], row["error_code"], row["attempts"][0]["outcome"]) == (
        "interrupted",
        "worker_lost",
        "interrupted",
    )
