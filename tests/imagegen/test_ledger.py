"""The write-ahead ledger: a row before the first vendor call, one attempt row per call, completed after.

The pipeline runs for real against fake vendors on 127.0.0.1; the database is read while a call is
under way, as an operator (or the recovery after a crash) would see it.
"""

import asyncio
import json
import time

import pytest

from core.db import run_db
from imagegen import pipeline
from imagegen.models import Generation, OptimizerSettings, VendorAttempt
from imagegen.recovery import current_worker
from tests.factories import TEST_CALLER, client_key_row, make_key, make_model, make_vendor
from tests.fakes.openai_chat import OpenAIChatFake
from tests.fakes.siliconflow import SiliconFlowFake

pytestmark = pytest.mark.django_db(transaction=True)

CLIENT_KEY = "client-key-for-ledger-0001"
KEYS = ["sk-ledger-one-1111", "sk-ledger-two-2222", "sk-ledger-three-3333"]


@pytest.fixture(autouse=True)
def _bootstrap_key(settings):
    client_key_row(CLIENT_KEY)


@pytest.fixture
def sf():
    with SiliconFlowFake() as fake:
        yield fake


@pytest.fixture
def vendor(sf):
    vendor = make_vendor(name="sf", kind="siliconflow", base_url=sf.url + "/v1", timeout=3.0)
    make_model(vendor, name="flux-schnell")
    for index, secret in enumerate(KEYS):
        make_key(vendor, secret, label=f"k{index + 1}")
    return vendor


def chat(client, content="a cat 16:9"):
    body = {"model": "flux-schnell", "messages": [{"role": "user", "content": content}]}
    return client.post(
        "/v1/chat/completions",
        data=json.dumps(body),
        content_type="application/json",
        HTTP_AUTHORIZATION=f"Bearer {CLIENT_KEY}",
    )


def ledger() -> list[tuple[Generation, list[VendorAttempt]]]:
    return [(row, list(row.attempts.all())) for row in Generation.objects.order_by("created_at")]


async def generate(idea="a cat 16:9"):
    route = await pipeline.resolve_route("flux-schnell")
    return await pipeline.generate(pipeline.GenerationRequest(route=route, idea=idea, caller=TEST_CALLER))


async def rows_once_present(timeout=5.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        rows = await run_db(ledger)
        if rows:
            return rows
        await asyncio.sleep(0.05)
    raise AssertionError("no ledger row appeared")


def test_a_pending_row_and_its_attempt_exist_while_the_vendor_is_still_working(vendor, sf):
    sf.latency = 1.5

    async def look_midway():
        task = asyncio.create_task(generate())
        while sf.in_flight == 0:  # until the vendor is working on it
            await asyncio.sleep(0.02)
        [(row, attempts)] = await run_db(ledger)
        await task
        return row, attempts

    row, attempts = asyncio.run(look_midway())

    assert (row.status, row.served_model, row.vendor_name, row.size) == ("pending", "flux-schnell", "sf", "1024x576")
    assert row.worker == current_worker() and row.prompt == "a cat"
    [attempt] = attempts
    assert attempt.key_label in {"k1", "k2", "k3"} and (attempt.outcome, attempt.sent, attempt.ended_at) == (
        "",
        None,
        None,
    )
    [(done, [finished])] = ledger()
    assert (done.pk, done.status, done.images.count()) == (row.pk, "success", 1)
    assert (finished.pk, finished.outcome, finished.sent) == (attempt.pk, "ok", True)
    assert finished.ended_at >= finished.started_at and done.latency_ms >= 1500


def test_every_key_tried_is_an_attempt_in_order_with_its_outcome(client, vendor, sf):
    sf.keys = {KEYS[0]: "invalid", KEYS[1]: "invalid"}

    assert chat(client).status_code == 200

    [(row, attempts)] = ledger()
    *refused, served = attempts
    assert row.status == "success" and refused  # the request moved past at least one refused key
    assert [attempt.outcome for attempt in refused] == ["upstream_key_rejected"] * len(refused)
    assert {attempt.key_label for attempt in refused} <= {"k1", "k2"}
    assert len({attempt.key_label for attempt in refused}) == len(refused)
    assert (served.key_label, served.outcome) == ("k3", "ok")
    assert all(attempt.sent for attempt in attempts)  # the vendor answered each one
    assert [attempt.started_at for attempt in attempts] == sorted(attempt.started_at for attempt in attempts)
    assert row.key_label == "k3"  # the key that made the image


def test_calls_that_never_reached_the_vendor_are_recorded_as_not_sent(client, vendor, sf):
    sf.stop()

    assert chat(client).status_code == 502

    [(row, attempts)] = ledger()
    assert (row.status, row.error_code) == ("failed", "upstream_error")
    assert [(attempt.outcome, attempt.sent) for attempt in attempts] == [("upstream_unavailable", False)] * 3


def test_a_timeout_is_one_attempt_that_reached_the_vendor_and_is_not_resubmitted(client, vendor, sf):
    sf.default_behaviour = "slow"  # 5 s, over the vendor's 3 s timeout

    assert chat(client).status_code == 504

    [(row, [attempt])] = ledger()
    assert (row.status, row.error_code) == ("failed", "upstream_timeout")
    assert (attempt.outcome, attempt.sent) == ("upstream_timeout", True)


def test_a_request_refused_before_any_vendor_call_is_written_once_without_attempts(client, vendor, sf):
    assert chat(client, "16:9").status_code == 400

    [(row, attempts)] = ledger()
    assert (row.status, row.error_code, attempts) == ("failed", "empty_prompt", [])
    assert sf.requests == []


def test_a_client_that_leaves_mid_call_leaves_the_attempt_interrupted(vendor, sf):
    sf.latency = 2.0

    async def leave_midway():
        task = asyncio.create_task(generate())
        await rows_once_present()
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task

    asyncio.run(leave_midway())

    [(row, [attempt])] = ledger()
    assert (row.status, row.error_code) == ("failed", "client_closed_request")
    assert (attempt.outcome, attempt.sent) == ("interrupted", None) and attempt.ended_at is not None


def test_with_the_optimizer_on_the_row_is_written_before_its_llm_is_called(vendor, sf):
    with OpenAIChatFake() as llm:
        llm.latency = 1.0
        llm.reply = "a tabby cat on a windowsill, soft light"
        optimizer = make_vendor(name="llm", kind="openai_chat", base_url=llm.url + "/v1")
        make_key(optimizer, "sk-llm-4444", label="llm")
        OptimizerSettings.objects.update_or_create(pk=1, defaults={"mode": "fast", "vendor": optimizer, "model": "m"})

        async def look_during_the_llm_call():
            task = asyncio.create_task(generate())
            [(row, attempts)] = await rows_once_present()
            assert sf.requests == []  # still with the optimizer
            await task
            return row, attempts

        row, attempts = asyncio.run(look_during_the_llm_call())

    assert (row.status, row.prompt, attempts) == ("pending", "", [])
    [(done, [attempt])] = ledger()
    assert (done.status, done.prompt, attempt.outcome) == ("success", llm.reply, "ok")
