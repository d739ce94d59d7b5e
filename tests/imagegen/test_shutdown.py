"""Generations under a shutdown: finished when they can be, cut with an answer at the deadline, never killed silently.

The server starts the process's shutdown clock (``imagegen.server``); here the tests start it themselves,
as the worker would, and watch what the client, the vendor and the ledger see.
"""

import asyncio
import json
import time

import pytest

from imagegen import pipeline
from imagegen.models import Generation
from imagegen.shutdown import ServerShuttingDown, before_shutdown_deadline, shutdown_clock
from tests.factories import TEST_CALLER, client_key_row, make_key, make_model, make_vendor
from tests.fakes.siliconflow import SiliconFlowFake

pytestmark = pytest.mark.django_db(transaction=True)

CLIENT_KEY = "client-key-for-shutdown-0001"


@pytest.fixture
def sf():
    with SiliconFlowFake() as fake:
        vendor = make_vendor(name="sf", kind="siliconflow", base_url=fake.url + "/v1", timeout=10.0)
        make_model(vendor, name="flux-schnell")
        make_key(vendor, "sk-shutdown-1111", label="k1")
        yield fake


async def generate():
    route = await pipeline.resolve_route("flux-schnell")
    return await pipeline.generate(pipeline.GenerationRequest(route=route, idea="a cat", caller=TEST_CALLER))


async def until_the_vendor_has_it(sf):
    while sf.in_flight == 0:
        await asyncio.sleep(0.02)


def test_a_generation_still_running_at_the_deadline_is_cut_answered_and_recorded_interrupted(sf):
    sf.latency = 8.0

    async def stop_midway():
        task = asyncio.create_task(generate())
        await until_the_vendor_has_it(sf)
        started = time.monotonic()
        shutdown_clock().begin(time.monotonic() + 0.5)
        with pytest.raises(ServerShuttingDown) as raised:
            await task
        return time.monotonic() - started, raised.value

    waited, error = asyncio.run(stop_midway())

    assert 0.4 < waited < 3.0  # at the deadline, not at the vendor's 8 s
    assert (error.status, error.code, error.body()["error"]["type"]) == (503, "server_shutting_down", "server_error")
    generation = Generation.objects.get()
    assert (generation.status, generation.error_code) == ("interrupted", "server_shutting_down")
    assert list(generation.attempts.values_list("outcome", "sent")) == [("interrupted", None)]
    deadline = time.monotonic() + 3
    while sf.in_flight and time.monotonic() < deadline:
        time.sleep(0.05)
    assert sf.in_flight == 0  # the vendor call was dropped, not left running


def test_a_generation_that_ends_before_the_deadline_is_answered_and_stored_as_usual(sf):
    sf.latency = 0.5

    async def stop_midway():
        task = asyncio.create_task(generate())
        await until_the_vendor_has_it(sf)
        shutdown_clock().begin(time.monotonic() + 5.0)
        return await task

    outcome = asyncio.run(stop_midway())

    assert len(outcome.images) == 1
    assert Generation.objects.get().status == "success"


def test_a_request_that_arrives_after_the_deadline_is_refused_before_paying_any_vendor(client, sf, settings):
    client_key_row(CLIENT_KEY)
    shutdown_clock().begin(time.monotonic() - 1.0)

    response = client.post(
        "/v1/chat/completions",
        data=json.dumps({"model": "flux-schnell", "messages": [{"role": "user", "content": "a cat"}]}),
        content_type="application/json",
        HTTP_AUTHORIZATION=f"Bearer {CLIENT_KEY}",
    )

    assert response.status_code == 503
    assert response.json()["error"]["code"] == "server_shutting_down"
    assert sf.requests == []
    assert Generation.objects.get().status == "interrupted"


def test_work_cut_at_the_deadline_is_cancelled_and_work_done_in_time_is_returned():
    async def scenario():
        cancelled = asyncio.Event()

        async def forever():
            try:
                await asyncio.sleep(60)
            except asyncio.CancelledError:
                cancelled.set()
                raise

        quick = await before_shutdown_deadline(asyncio.sleep(0, result="done"))
        shutdown_clock().begin(time.monotonic() + 0.2)
        with pytest.raises(ServerShuttingDown):
            await before_shutdown_deadline(forever())
        return quick, cancelled.is_set()

    assert asyncio.run(scenario()) == ("done", True)
