"""The services door without HTTP views: images in batches from a real fake vendor, chat replies, a key reset."""

import asyncio
from collections.abc import Callable
from dataclasses import replace

import pytest
from aiohttp import web
from django.core.cache import cache

from core.http import close_client
from tests.factories import make_key, make_model, make_vendor
from tests.fakes.openai_chat import OpenAIChatFake
from tests.fakes.profile import profile_of
from tests.fakes.siliconflow import SiliconFlowFake
from tests.vendors.keys_helpers import Upstream, failing, vendor_with_keys
from vendors import errors
from vendors.adapters import chat_kinds
from vendors.adapters.base import ChatRequest, ImageRequest
from vendors.keys import cooldown_key, failures_key
from vendors.models import VendorKey
from vendors.selectors import ModelRoute, build_routing_table, vendor_route
from vendors.services import complete_chat, generate_images, reset_key

pytestmark = pytest.mark.django_db(transaction=True)

SCRIPTED = web.RequestKey("scripted behaviour", str)
CHAT = ChatRequest(model="deepseek-chat", system="Rewrite the prompt.", user="a red lantern")


class ScriptedSiliconFlow(SiliconFlowFake):
    """SiliconFlow whose behaviour for each call is ``script(call number, JSON body)``; None: the usual one."""

    def __init__(self, script: Callable[[int, dict], str | None]):
        super().__init__()
        self.script = script
        self.calls = 0

    async def generate(self, request):
        self.calls += 1
        request[SCRIPTED] = self.script(self.calls, await request.json()) or ""
        return await super().generate(request)

    def behaviour_of(self, request):
        key, usual = super().behaviour_of(request)
        return key, request.get(SCRIPTED) or usual


def run(coroutine):
    async def main():
        try:
            return await coroutine
        finally:
            await close_client()

    return asyncio.run(main())


def image_route(fake, *labels: str) -> ModelRoute:
    vendor = make_vendor(name="sf", kind="siliconflow", base_url=fake.url + "/v1", timeout=5.0)
    for label in labels:
        make_key(vendor, f"sk-{label}-secret-0001", label=label)
    make_model(vendor, name="kolors", upstream_name="Kwai-Kolors/Kolors")
    return build_routing_table().models["kolors"]


def generate(route: ModelRoute, n: int):
    return run(generate_images(route, ImageRequest(prompt="a violet kite", model=route.upstream_name, n=n)))


def batch_sizes(fake) -> list[int]:
    """The images each API call asked for, in arrival order (no batch_size: one)."""
    return [request.json.get("batch_size", 1) for request in fake.requests if request.path == "/v1/images/generations"]


def test_images_are_asked_for_in_as_few_calls_as_the_model_batches():
    with SiliconFlowFake() as fake:
        made = generate(image_route(fake, "k1", "k2"), 6)

    assert sorted(batch_sizes(fake)) == [2, 4]  # SiliconFlow takes batch_size up to 4
    assert len(made.images) == 6 and made.failures == []
    assert sorted(made.key_labels) == ["k1", "k2"]


def test_a_short_batch_is_topped_up_one_image_per_call():
    with SiliconFlowFake() as fake:
        fake.default_behaviour = "single"  # FLUX models answer one image whatever batch_size says
        made = generate(image_route(fake, "k1"), 3)

    assert batch_sizes(fake) == [3, 1, 1]
    assert len(made.images) == 3 and made.failures == []
    assert made.key_labels == ["k1"] * 3


def test_a_call_that_fails_is_reported_and_the_images_of_the_others_are_kept():
    with ScriptedSiliconFlow(lambda _, body: None if "batch_size" in body else "moderated") as fake:
        made = generate(image_route(fake, "k1", "k2"), 5)

    assert sorted(batch_sizes(fake)) == [1, 4]
    assert len(made.images) == 4
    assert made.failures == ["content policy violation"]
    assert len(made.key_labels) == 2


def test_every_image_of_a_refused_batch_is_reported_with_the_refusal():
    with ScriptedSiliconFlow(lambda call, _: "moderated" if call == 2 else None) as fake:
        made = generate(image_route(fake, "k1", "k2"), 8)

    assert len(made.images) == 4
    assert made.failures == ["content policy violation"] * 4


def test_a_top_up_that_fails_is_reported_and_the_image_made_is_kept():
    with ScriptedSiliconFlow(lambda call, _: "single" if call == 1 else "bad_model") as fake:
        made = generate(image_route(fake, "k1"), 3)

    assert batch_sizes(fake) == [3, 1, 1]
    assert len(made.images) == 1
    assert made.failures == ["upstream bad request"] * 2


def test_when_every_call_fails_the_first_failure_is_raised_with_every_key_used():
    with SiliconFlowFake() as fake:
        fake.default_behaviour = "moderated"
        route = image_route(fake, "k1", "k2")
        with pytest.raises(errors.ContentPolicy) as raised:
            generate(route, 8)

    assert len(batch_sizes(fake)) == 2  # refused at once: no other key tried, no top-up
    assert sorted(raised.value.key_labels) == ["k1", "k2"]
    assert "sensitive content" in raised.value.message


def test_a_vendor_with_every_key_resting_makes_no_call():
    with SiliconFlowFake() as fake:
        route = image_route(fake, "k1")
        for key in route.vendor.keys:
            cache.set(cooldown_key(key.id), 0.0, timeout=60)
        with pytest.raises(errors.NoAvailableKey):
            generate(route, 2)

    assert fake.requests == []


@pytest.fixture
def chat_fake():
    with OpenAIChatFake() as fake:
        yield fake


def chat_vendor(fake, *tokens: str, enabled: bool = True):
    vendor = make_vendor(name="llm", kind="openai_chat", base_url=fake.url + "/v1", enabled=enabled)
    for index, token in enumerate(tokens):
        make_key(vendor, token, label=f"llm{index + 1}")
    return vendor


def test_a_chat_vendor_answers_the_request_with_its_reply(chat_fake):
    vendor = chat_vendor(chat_fake, "sk-llm-one-secret-0001")

    reply = run(complete_chat(vendor.id, CHAT))

    assert (reply.content, reply.finish_reason) == (chat_fake.reply, "stop")
    [sent] = chat_fake.requests
    assert sent.json["model"] == "deepseek-chat"
    assert [message["content"] for message in sent.json["messages"]] == ["Rewrite the prompt.", "a red lantern"]


@pytest.fixture(params=chat_kinds())
def each_chat_kind(request):
    """A vendor of each registered chat kind on its fake (``tests/fakes/<kind>.py`` declares how), with two keys."""
    profile = profile_of(request.param)
    with profile.fake() as fake:
        vendor = make_vendor(name=request.param, kind=request.param, base_url=fake.url + profile.path)
        tokens = [f"sk-{request.param}-first-0001", f"sk-{request.param}-second-0002"]
        for index, token in enumerate(tokens):
            make_key(vendor, profile.secret(fake, token), label=f"llm{index + 1}")
        yield vendor, profile, fake, tokens


def test_each_chat_kind_moves_past_a_refused_key(each_chat_kind):
    vendor, profile, fake, tokens = each_chat_kind
    fake.keys = {tokens[0]: profile.bad_key}
    request = replace(CHAT, model=profile.model)

    replies = [run(complete_chat(vendor.id, request)) for _ in range(2)]

    assert all(reply.content for reply in replies)
    assert VendorKey.objects.get(label="llm1").status == VendorKey.Status.AUTO_DISABLED
    assert fake.keys_used().count(tokens[0]) == 1  # once: then it rests


def test_each_chat_kinds_moderation_stops_the_request_without_another_key(each_chat_kind):
    vendor, profile, fake, tokens = each_chat_kind
    if profile.moderated is None:
        pytest.skip("the kind documents no moderation answer")
    fake.default_behaviour = profile.moderated

    with pytest.raises(errors.ContentPolicy) as raised:
        run(complete_chat(vendor.id, replace(CHAT, model=profile.model)))

    assert len(fake.keys_used()) == 1
    assert not any(token in raised.value.message for token in tokens)


@pytest.mark.parametrize("which", ["none", "unknown", "disabled"])
def test_a_missing_or_disabled_chat_vendor_has_no_available_key(chat_fake, which):
    disabled = chat_vendor(chat_fake, "sk-llm-one-secret-0001", enabled=False)
    vendor_id = {"none": None, "unknown": disabled.id + 1000, "disabled": disabled.id}[which]

    with pytest.raises(errors.NoAvailableKey) as raised:
        run(complete_chat(vendor_id, CHAT))

    assert raised.value.status == 503
    assert chat_fake.requests == []


def test_a_reset_key_is_back_in_the_routing_table_and_in_turn():
    vendor, route = vendor_with_keys("a", "b")
    upstream = Upstream(a=failing(errors.KeyRejected))
    for _ in range(2):
        upstream.call(route)
    refused = VendorKey.objects.get(label="a")
    assert refused.status == VendorKey.Status.AUTO_DISABLED

    reset_key(refused)
    upstream.answers = {}
    labels = {upstream.call(route).key_label for _ in range(2)}

    refused.refresh_from_db()
    assert (refused.status, refused.failure_count) == (VendorKey.Status.ACTIVE, 0)
    assert labels == {"a", "b"}
    assert cache.get(cooldown_key(refused.id)) is None
    assert [key.label for key in run(vendor_route(vendor.id)).keys] == ["a", "b"]


def test_a_reset_key_starts_its_failure_streak_over(settings):
    settings.KEY_FAILURES_BEFORE_COOLDOWN = 3
    _, route = vendor_with_keys("a")
    upstream = Upstream(a=failing(errors.UpstreamUnavailable))
    for _ in range(2):
        upstream.failure(route)
    assert cache.get(failures_key(route.keys[0].id)) == 2

    reset_key(VendorKey.objects.get(label="a"))
    ends = [type(upstream.failure(route)) for _ in range(2)]

    assert ends == [errors.AllKeysFailed] * 2  # four failures, never three in a row: still tried
    assert upstream.tried == ["a"] * 4
