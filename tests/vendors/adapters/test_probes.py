"""Every kind's free key check, against its fake: a good key passes with a few words from the answer, a bad
key is refused, a busy or broken vendor gives no verdict, and nothing is ever generated."""

from __future__ import annotations

import asyncio

import httpx
import pytest

from tests.fakes.chat_image import ChatImageFake
from tests.fakes.fal import FalFake
from tests.fakes.faults import INTERNAL_HOST, html_page
from tests.fakes.profile import profile_of
from tests.fakes.siliconflow import SiliconFlowFake
from tests.fakes.workers_ai import WorkersAIFake
from vendors.adapters import adapter_class, adapters
from vendors.adapters.base import VendorTarget
from vendors.adapters.probing import NO_PROBE, ProbeAnswer, probe
from vendors.adapters.siliconflow import SiliconFlowAdapter

GOOD, BAD = "good-token-0000000001", "bad-token-00000000002"
# What a passing probe of each kind says, from its fake's answer.
SUMMARIES = {
    "siliconflow": "balance 12.88, normal",
    "chat_image": "used 2.5, credit left 7.5",
    "openai_images": "3 model(s) listed",
    "stability": "credits 42.5",
    "workers_ai": "the account's Workers AI models are readable",
    "replicate": "account acme (organization)",
    "bfl": "credits 99.5",
    "fal": "balance 12.5 USD",
    "openai_chat": "2 model(s) listed",
}


def run_probe(kind: str, fake, token: str, *, base: str | None = None) -> ProbeAnswer:
    profile = profile_of(kind)
    adapter = adapter_class(kind)(VendorTarget(name=kind, base_url=base or fake.url + profile.path, timeout=5))

    async def go():
        async with httpx.AsyncClient(trust_env=False) as client:
            return await probe(adapter, client, profile.secret(fake, token))

    return asyncio.run(go())


@pytest.fixture(params=list(adapters()))
def kind(request):
    return request.param


@pytest.fixture
def fake(kind):
    with profile_of(kind).fake() as server:
        server.keys = {BAD: profile_of(kind).bad_key}
        yield server


def test_every_kind_has_a_summary_here():
    assert set(SUMMARIES) == set(adapters())


def test_a_good_key_passes_with_what_the_vendor_said_and_nothing_is_generated(kind, fake):
    answer = run_probe(kind, fake, GOOD)

    assert answer.passed is True, answer
    assert answer.summary == SUMMARIES[kind]
    assert answer.status == 200 and answer.latency > 0
    assert fake.requests and {request.method for request in fake.requests} == {"GET"}


def test_a_bad_key_is_refused_and_the_key_never_shows(kind, fake):
    answer = run_probe(kind, fake, BAD)

    assert answer.passed is False, answer
    assert answer.verdict == "refused"
    assert answer.status in (401, 403) and answer.code == "upstream_key_rejected"
    assert BAD not in answer.summary and "://" not in answer.summary and answer.summary


@pytest.mark.parametrize("behaviour", ["rate_limited", "server_error"])
def test_a_busy_or_broken_vendor_gives_no_verdict(kind, fake, behaviour):
    fake.keys[GOOD] = behaviour

    answer = run_probe(kind, fake, GOOD)

    assert answer.passed is None and answer.verdict == "no verdict"
    assert answer.code in ("upstream_rate_limited", "upstream_unavailable")


@pytest.mark.parametrize("code", [200, 403, 502])
def test_a_proxys_page_gives_no_verdict_and_names_nothing_behind_it(kind, fake, code):
    fake.faults.inject(html_page(code), at="poll")

    answer = run_probe(kind, fake, GOOD)

    assert answer.passed is None and answer.status == code
    assert INTERNAL_HOST not in answer.summary and "://" not in answer.summary


def test_a_vendor_that_does_not_answer_gives_no_verdict():
    answer = run_probe("siliconflow", None, GOOD, base="http://127.0.0.1:9/v1")

    assert answer.passed is None and answer.code == "upstream_unavailable"
    assert "://" not in answer.summary and answer.latency > 0


def test_a_relay_without_openrouters_key_endpoint_is_checked_by_its_models_list():
    with ChatImageFake(keys={BAD: "invalid"}) as fake:
        fake.key_endpoint = False
        good, bad = run_probe("chat_image", fake, GOOD), run_probe("chat_image", fake, BAD)

    assert good.passed is True and good.summary == "1 model(s) listed"
    assert [request.path for request in fake.requests[:2]] == ["/v1/key", "/v1/models"]
    assert bad.passed is False


def test_fal_takes_a_key_that_may_not_read_billing_as_valid_but_refuses_a_locked_account():
    with FalFake(keys={"inference": "inference_only", "locked": "locked"}) as fake:
        inference, locked = run_probe("fal", fake, "inference"), run_probe("fal", fake, "locked")

    assert inference.passed is True and "may not read" in inference.summary
    assert locked.passed is False and "Exhausted balance" in locked.summary


def test_a_plain_workers_ai_token_is_checked_on_the_base_urls_account_and_refused_without_one():
    def plain(base: str, token: str) -> ProbeAnswer:
        adapter = adapter_class("workers_ai")(VendorTarget(name="cf", base_url=base, timeout=5))

        async def go():
            async with httpx.AsyncClient(trust_env=False) as client:
                return await probe(adapter, client, token)

        return asyncio.run(go())

    with WorkersAIFake(keys={BAD: "invalid"}) as fake:
        named = fake.url + "/client/v4/accounts/" + fake.account_id
        good, bad, other = plain(named, GOOD), plain(named, BAD), plain(named[:-4] + "ffff", GOOD)
        sent = len(fake.requests)
        bare = plain(fake.url + "/client/v4", GOOD)

    assert good.passed is True and bad.passed is False
    assert other.passed is None and other.status == 404  # no such account: a configuration error, not the key's
    assert bare.passed is False and "names no account" in bare.summary
    assert len(fake.requests) == sent  # nothing was sent for it


class KindWithoutProbe(SiliconFlowAdapter):
    """A kind whose API has no free endpoint declares no probe requests."""

    def probe_requests(self, key: str) -> list[httpx.Request]:
        return []


def test_a_kind_without_a_free_check_says_so_and_sends_nothing():
    with SiliconFlowFake() as fake:
        adapter = KindWithoutProbe(VendorTarget(name="x", base_url=fake.url + "/v1", timeout=5))

        async def go():
            async with httpx.AsyncClient(trust_env=False) as client:
                return await probe(adapter, client, GOOD)

        answer = asyncio.run(go())

    assert answer == ProbeAnswer(None, NO_PROBE) and fake.requests == []
