"""The caps' queue on its own, on the suite's shared cache: order, bounds, leases (the HTTP behaviour is
in tests/e2e/test_vendor_caps.py)."""

import asyncio
import time

import pytest

from core.http import close_client
from tests.factories import make_key, make_model, make_vendor
from tests.fakes.openai_chat import OpenAIChatFake
from tests.fakes.siliconflow import SiliconFlowFake
from vendors import caps, errors
from vendors.adapters.base import ChatRequest, ImageRequest
from vendors.selectors import VendorRoute, route_for
from vendors.services import complete_chat, generate_images


def vendor(*, rpm=None, concurrent=None, timeout=60.0) -> VendorRoute:
    return VendorRoute(
        id=7, name="capped", kind="siliconflow", base_url="http://127.0.0.1:9", timeout=timeout, keys=(),
        requests_per_minute=rpm, max_concurrent_calls=concurrent,
    )  # fmt: skip


async def hold(route: VendorRoute, seconds: float, log: list, name: str, **queueing) -> None:
    async with caps.vendor_call(route, caps.Queueing(**queueing)):
        log.append(name)
        await asyncio.sleep(seconds)


def test_waiters_get_their_turn_in_the_order_they_came(settings):
    settings.VENDOR_QUEUE_WAIT = 10
    route, order = vendor(concurrent=1), []

    async def run():
        first = asyncio.create_task(hold(route, 0.3, order, "first"))
        await asyncio.sleep(0.05)
        waiters = []
        for name in ("second", "third", "fourth"):
            waiters.append(asyncio.create_task(hold(route, 0.05, order, name)))
            await asyncio.sleep(0.05)  # each has its ticket before the next comes
        await asyncio.gather(first, *waiters)

    asyncio.run(run())
    assert order == ["first", "second", "third", "fourth"]


def test_a_full_queue_answers_at_once_and_no_wait_means_no_queue(settings):
    settings.VENDOR_QUEUE_WAIT, settings.VENDOR_QUEUE_LENGTH = 10, 1
    route, log = vendor(concurrent=1), []

    async def run():
        holder = asyncio.create_task(hold(route, 0.5, log, "holder"))
        await asyncio.sleep(0.05)
        waiter = asyncio.create_task(hold(route, 0, log, "waiter"))
        await asyncio.sleep(0.1)
        started = time.monotonic()
        with pytest.raises(caps.VendorBusy, match="its queue is full"):
            await hold(route, 0, log, "one too many")
        with pytest.raises(caps.VendorBusy, match="no call can start now"):
            await hold(route, 0, log, "fallback would be tried", wait=False)
        took = time.monotonic() - started
        await asyncio.gather(holder, waiter)
        return took

    assert asyncio.run(run()) < 0.2
    assert log == ["holder", "waiter"]


def test_a_slot_whose_worker_died_frees_itself_when_its_lease_ends(settings, monkeypatch):
    settings.VENDOR_QUEUE_WAIT = 0
    monkeypatch.setattr(caps, "LEASE_GRACE", 0.0)
    route = vendor(concurrent=1, timeout=1.0)
    taken, _ = caps._take_room(route, "a worker that dies holding it")  # never given back
    assert taken is not None

    async def attempt() -> bool:
        try:
            async with caps.vendor_call(route):
                return True
        except caps.VendorBusy:
            return False

    assert asyncio.run(attempt()) is False
    time.sleep(1.2)
    assert asyncio.run(attempt()) is True


def test_a_retry_with_the_next_key_starts_the_slots_lease_again(settings, monkeypatch):
    settings.VENDOR_QUEUE_WAIT = 0
    monkeypatch.setattr(caps, "LEASE_GRACE", 0.0)
    route = vendor(concurrent=1, timeout=2.0)
    held, _ = caps._take_room(route, "a call on its first key")
    time.sleep(1.5)
    asyncio.run(caps.count_retry(route, held))  # its second key: up to another timeout
    time.sleep(1.0)

    assert caps._take_room(route, "another call")[0] is None  # still held, 2.5 s after it was taken
    time.sleep(1.5)
    assert caps._take_room(route, "another call")[0] is not None


def test_a_waiter_cancelled_in_line_leaves_it(settings):
    settings.VENDOR_QUEUE_WAIT = 10
    route, log, progress = vendor(concurrent=1), [], []

    async def run():
        holder = asyncio.create_task(hold(route, 0.6, log, "holder"))
        await asyncio.sleep(0.05)
        leaving = asyncio.create_task(hold(route, 0, log, "leaving"))
        await asyncio.sleep(0.1)
        leaving.cancel()
        await asyncio.gather(leaving, return_exceptions=True)
        await hold(route, 0, log, "next", progress=progress.append)
        await holder

    asyncio.run(run())
    assert log == ["holder", "next"]
    assert progress == ["capped is at its limit; waiting in its queue at position 1."]


def test_the_minute_says_when_it_has_room_again(settings):
    settings.VENDOR_QUEUE_WAIT = 0.3
    route = vendor(rpm=2)

    async def run():
        for _ in range(2):
            async with caps.vendor_call(route):
                pass
        with pytest.raises(caps.VendorBusy) as busy:
            async with caps.vendor_call(route):
                pass
        return busy.value

    busy = asyncio.run(run())
    assert busy.status == 503 and busy.code == "vendor_busy"
    assert 59 <= busy.retry_after <= 61


class PeakChat(OpenAIChatFake):
    """The chat fake, noting the most calls it answered at once."""

    peak = 0

    async def pause(self, behaviour: str) -> None:
        self.peak = max(self.peak, self.in_flight + 1)
        await super().pause(behaviour)


@pytest.mark.django_db(transaction=True)
def test_the_optimizer_llm_is_held_to_its_vendors_caps_too(settings):
    settings.VENDOR_QUEUE_WAIT = 10
    with PeakChat(latency=0.3) as fake:
        row = make_vendor(name="llm", kind="openai_chat", base_url=fake.url + "/v1", max_concurrent_calls=1)
        make_key(row, "sk-llm-capped-0001", label="llm1")
        request = ChatRequest(model="deepseek-chat", system="Rewrite the prompt.", user="a red lantern")

        async def three_at_once():
            try:
                return await asyncio.gather(*(complete_chat(row.id, request) for _ in range(3)))
            finally:
                await close_client()

        replies = asyncio.run(three_at_once())

    assert all(reply.content for reply in replies)
    assert fake.peak == 1 and len(fake.requests) == 3


@pytest.mark.django_db(transaction=True)
def test_a_retry_with_the_next_key_counts_in_the_minute(settings):
    settings.VENDOR_QUEUE_WAIT = 0
    with SiliconFlowFake(keys={"sk-limited-0001": "rate_limited", "sk-down-0002": "overloaded"}) as fake:
        row = make_vendor(name="sf", base_url=fake.url + "/v1", requests_per_minute=2)
        make_key(row, "sk-limited-0001", label="a")
        make_key(row, "sk-down-0002", label="b")
        make_model(row, name="flux-schnell")
        request = ImageRequest(prompt="a lighthouse", model="flux-schnell")

        async def twice():
            try:
                route = await route_for("flux-schnell")
                outcomes = []
                for _ in range(2):
                    try:
                        await generate_images(route, request)
                    except errors.UpstreamError as exc:
                        outcomes.append(exc.code)
                return outcomes
            finally:
                await close_client()

        outcomes = asyncio.run(twice())

    assert outcomes == ["upstream_error", "vendor_busy"]  # both keys failed: two calls, and the minute is full
    assert len(fake.keys_used()) == 2
