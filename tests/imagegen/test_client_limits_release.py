"""A generation cut by the shutdown deadline gives back its client key's in-flight slot and its images
of the day, as one that ends any other way does (the API tests cover success, failure and streams)."""

import asyncio
import time

import pytest

from imagegen import client_limits, pipeline
from imagegen.client_keys import caller_of
from imagegen.errors import KeyQuotaExceeded, KeyRateLimited
from imagegen.shutdown import ServerShuttingDown, shutdown_clock
from tests.factories import client_key_row, make_key, make_model, make_vendor
from tests.fakes.siliconflow import SiliconFlowFake

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def sf():
    with SiliconFlowFake() as fake:
        vendor = make_vendor(name="sf", kind="siliconflow", base_url=fake.url + "/v1", timeout=10.0)
        make_model(vendor, name="flux-schnell")
        make_key(vendor, "sk-limits-1111", label="k1")
        yield fake


def test_a_generation_cut_by_the_shutdown_gives_back_its_slot_and_images(sf):
    sf.latency = 8.0
    limited = caller_of(client_key_row("client-key-for-limits-4242", max_in_flight=1, images_per_day=1))

    async def cut_midway():
        route = await pipeline.resolve_route("flux-schnell")
        admission = await client_limits.admit(limited, 1)
        request = pipeline.GenerationRequest(route=route, idea="a cat", caller=limited, admission=admission)
        task = asyncio.create_task(pipeline.generate(request))
        while sf.in_flight == 0 and not task.done():
            await asyncio.sleep(0.02)
        with pytest.raises(KeyRateLimited):  # the slot is taken while it runs
            await client_limits.admit(limited, 1)
        shutdown_clock().begin(time.monotonic() + 0.3)
        with pytest.raises(ServerShuttingDown):
            await task
        again = await client_limits.admit(limited, 1)  # the slot and the image are back
        with pytest.raises(KeyRateLimited):
            await client_limits.admit(limited, 1)
        await again.release(delivered=1)
        with pytest.raises(KeyQuotaExceeded):  # the day's one image is now spent
            await client_limits.admit(limited, 1)

    asyncio.run(cut_midway())
