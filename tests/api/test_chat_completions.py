"""Chat completions end to end inside Django: real fake vendors on 127.0.0.1, real storage, real ledger."""

import json
import logging
import re

import pytest

from imagegen.models import Generation, OptimizerSettings
from tests.factories import client_key_row, make_client_key, make_key, make_model, make_vendor
from tests.fakes.chat_image import ChatImageFake
from tests.fakes.openai_chat import OpenAIChatFake
from tests.fakes.server import jpeg_bytes, png_bytes
from tests.fakes.siliconflow import SiliconFlowFake
from vendors.models import VendorKey

pytestmark = pytest.mark.django_db(transaction=True)

CLIENT_KEY = "client-key-for-tests-0001"
KEYS = ["sk-first-key-aaaa1111", "sk-second-key-bbbb2222", "sk-third-key-cccc3333"]
IMAGE_LINK = re.compile(r"!\[image\]\((?P<url>[^)]+)\)")


@pytest.fixture(autouse=True)
def _bootstrap_key(settings):
    client_key_row(CLIENT_KEY)


@pytest.fixture
def sf():
    with SiliconFlowFake(image=png_bytes(48, 27, (10, 200, 90))) as fake:
        yield fake


@pytest.fixture
def vendor(sf):
    vendor = make_vendor(name="sf", kind="siliconflow", base_url=sf.url + "/v1", timeout=3.0)
    make_model(vendor, name="flux-schnell", upstream_name="black-forest-labs/FLUX.1-schnell")
    for index, secret in enumerate(KEYS):
        make_key(vendor, secret, label=f"k{index + 1}")
    return vendor


def chat(client, content="a cat 16:9", model="flux-schnell", key=CLIENT_KEY, **extra):
    body = {"model": model, "messages": [{"role": "user", "content": content}], **extra}
    return client.post(
        "/v1/chat/completions",
        data=json.dumps(body),
        content_type="application/json",
        HTTP_AUTHORIZATION=f"Bearer {key}",
    )


def image_url(response) -> str:
    return IMAGE_LINK.search(response.json()["choices"][0]["message"]["content"])["url"]


def test_a_generation_answers_a_chat_completion_with_a_permanent_image_link(client, vendor, sf):
    response = chat(client, "a cat 16:9")
    assert response.status_code == 200, response.content
    body = response.json()
    assert body["object"] == "chat.completion" and body["model"] == "flux-schnell"
    assert body["id"].startswith("chatcmpl-")
    choice = body["choices"][0]
    assert choice["finish_reason"] == "stop" and choice["message"]["role"] == "assistant"
    url = image_url(response)
    assert url.startswith("http://testserver/images/") and url.endswith(".png")
    assert "\n\nPrompt: a cat\n\nModel: flux-schnell · Size: 48x27" in choice["message"]["content"]
    assert body["usage"]["total_tokens"] == body["usage"]["prompt_tokens"] + body["usage"]["completion_tokens"]
    served = client.get(url.removeprefix("http://testserver"))
    assert served.status_code == 200
    assert b"".join(served.streaming_content if served.streaming else [served.content]) == sf.image


def test_the_vendor_gets_the_upstream_model_the_ratio_size_and_the_prompt_without_the_ratio(client, vendor, sf):
    chat(client, "a cat 16:9")
    sent = sf.requests[0].json
    assert sent["model"] == "black-forest-labs/FLUX.1-schnell"
    assert sent["image_size"] == "1024x576"
    assert sent["prompt"] == "a cat"


def test_the_image_survives_the_vendor_url_expiring(client, vendor, sf):
    url = image_url(chat(client)).removeprefix("http://testserver")
    sf.expire_files()
    sf.stop()
    served = client.get(url)
    assert served.status_code == 200
    assert b"".join(served.streaming_content if served.streaming else [served.content]) == sf.image


def test_image_links_use_the_public_base_url_when_set(client, vendor, settings):
    settings.PUBLIC_BASE_URL = "https://img.example.com"
    assert image_url(chat(client)).startswith("https://img.example.com/images/")


def test_a_successful_generation_leaves_a_ledger_row_with_its_image(client, vendor):
    _, raw = make_client_key("my-app")
    chat(client, "a dog 9:16", key=raw)
    generation = Generation.objects.get()
    assert generation.status == Generation.Status.SUCCESS
    assert (generation.model, generation.vendor_name, generation.client_label) == ("flux-schnell", "sf", "my-app")
    assert generation.key_label in {"k1", "k2", "k3"}
    assert (generation.size, generation.user_prompt, generation.prompt) == ("576x1024", "a dog 9:16", "a dog")
    assert generation.images.count() == 1
    assert generation.client_key is not None


def test_each_request_starts_at_the_next_key_in_turn(client, vendor, sf):
    for _ in range(6):
        assert chat(client).status_code == 200
    used = sf.keys_used()
    assert sorted(used[:3]) == sorted(KEYS)
    assert used[3:] == used[:3]


def test_an_invalid_key_is_auto_disabled_and_the_next_key_serves(client, vendor, sf):
    sf.keys = {KEYS[0]: "invalid"}
    for _ in range(3):
        assert chat(client).status_code == 200
    bad = VendorKey.objects.get(label="k1")
    assert bad.status == VendorKey.Status.AUTO_DISABLED
    assert bad.failure_count == 1 and "Invalid token" in bad.last_error
    assert KEYS[0] not in bad.last_error
    for _ in range(3):
        chat(client)
    assert sf.keys_used().count(KEYS[0]) == 1


def test_a_rate_limited_key_cools_down_and_is_skipped(client, vendor, sf):
    sf.keys = {KEYS[1]: "rate_limited"}
    for _ in range(6):
        assert chat(client).status_code == 200
    assert sf.keys_used().count(KEYS[1]) == 1
    resting = VendorKey.objects.get(label="k2")
    assert resting.status == VendorKey.Status.COOLING and resting.cooling_until is not None


def test_an_overloaded_vendor_answer_moves_to_the_next_key(client, vendor, sf):
    sf.keys = {key: "overloaded" for key in KEYS[:2]}
    sf.default_behaviour = "overloaded"
    sf.keys[KEYS[2]] = "ok"
    assert chat(client).status_code == 200


def test_when_every_key_fails_the_client_gets_a_502_without_secrets(client, vendor, sf):
    sf.default_behaviour = "server_error"
    response = chat(client)
    assert response.status_code == 502
    error = response.json()["error"]
    assert error["code"] == "upstream_error"
    assert "3" in error["message"] and "sf" in error["message"]
    assert not any(key in error["message"] for key in KEYS)
    assert sf.url not in error["message"] and "127.0.0.1" not in error["message"]
    assert len(sf.keys_used()) == 3


def test_when_every_key_is_disabled_the_client_gets_a_503(client, vendor, sf):
    sf.default_behaviour = "invalid"
    assert chat(client).status_code == 502
    response = chat(client)
    assert response.status_code == 503
    assert response.json()["error"]["code"] == "no_available_key"
    assert "Retry-After" not in response  # disabled keys do not come back by themselves
    assert len(sf.keys_used()) == 3


def test_when_every_key_is_cooling_retry_after_says_when_the_first_is_back(client, vendor, sf):
    sf.retry_after = 7
    sf.default_behaviour = "rate_limited"
    assert chat(client).status_code == 502
    response = chat(client)
    assert response.status_code == 503
    assert response.json()["error"]["code"] == "no_available_key"
    assert 5 <= int(response["Retry-After"]) <= 7
    assert "back in" in response.json()["error"]["message"]


def test_a_content_policy_refusal_stops_at_once_with_the_vendors_reason(client, vendor, sf):
    sf.default_behaviour = "moderated"
    response = chat(client)
    assert response.status_code == 400
    error = response.json()["error"]
    assert error["code"] == "content_policy_violation"
    assert "sensitive" in error["message"].lower()
    assert len(sf.keys_used()) == 1
    assert Generation.objects.get().error_code == "content_policy_violation"


def test_a_bad_request_stops_at_once(client, vendor, sf):
    sf.default_behaviour = "bad_model"
    response = chat(client)
    assert (response.status_code, response.json()["error"]["code"]) == (400, "upstream_bad_request")
    assert len(sf.keys_used()) == 1


def test_a_vendor_that_times_out_after_the_request_is_not_asked_again(client, vendor, sf):
    sf.default_behaviour = "slow"  # 5 s, over the vendor's 3 s timeout
    response = chat(client)
    assert response.status_code == 504
    assert response.json()["error"]["code"] == "upstream_timeout"
    assert len(sf.keys_used()) == 1
    assert sorted(key.status for key in VendorKey.objects.all()) == ["active", "active", "suspect"]  # no disable


def test_an_image_that_cannot_be_downloaded_is_reported_and_not_regenerated(client, vendor, sf):
    sf.url_ttl = 0
    response = chat(client)
    assert response.status_code == 502
    error = response.json()["error"]
    assert error["code"] == "image_fetch_failed"
    assert sf.url not in error["message"]
    assert len(sf.keys_used()) == 1
    assert Generation.objects.get().status == Generation.Status.FAILED


def test_no_key_and_no_upstream_url_reach_the_log(client, vendor, sf, caplog):
    caplog.set_level(logging.DEBUG)
    sf.keys = {KEYS[0]: "invalid", KEYS[1]: "rate_limited"}
    for _ in range(3):
        chat(client)
    sf.default_behaviour = "server_error"
    chat(client)
    text = "\n".join(handler_record.getMessage() for handler_record in caplog.records)
    assert "vendor sf key" in text
    assert not any(key in text for key in KEYS)
    assert f"127.0.0.1:{sf.port}" not in text


@pytest.mark.parametrize("mode", ["images_array", "markdown_data_url", "markdown_https_url", "content_parts"])
def test_chat_image_vendors_deliver_stored_images(client, mode):
    image = jpeg_bytes(40, 30)
    with ChatImageFake(mode=mode) as fake:
        fake.image = image
        vendor = make_vendor(name="relay", kind="chat_image", base_url=fake.url + "/v1")
        make_model(vendor, name="gemini-image")
        make_key(vendor, "sk-relay-key-0001")
        response = chat(client, "a lantern 9:16", model="gemini-image")
        assert response.status_code == 200, response.content
        url = image_url(response)
        assert url.endswith(".jpg")
        served = client.get(url.removeprefix("http://testserver"))
        assert b"".join(served.streaming_content if served.streaming else [served.content]) == image
        assert fake.requests[0].json["image_config"]["aspect_ratio"] == "9:16"


# --- prompt optimizer ------------------------------------------------------------------------


@pytest.fixture
def llm():
    with OpenAIChatFake() as fake:
        yield fake


def turn_on_optimizer(llm, mode, *, keys=("sk-llm-key-0001",), budget=20.0):
    optimizer = make_vendor(name="optimizer", kind="openai_chat", base_url=llm.url + "/v1")
    for secret in keys:
        make_key(optimizer, secret)
    OptimizerSettings(mode=mode, vendor=optimizer, model="deepseek-chat", time_budget=budget).save()


def test_fast_mode_sends_the_llms_prompt_to_the_vendor(client, vendor, sf, llm):
    llm.reply = "a tabby cat on a windowsill, watercolor, cozy room, soft morning light"
    turn_on_optimizer(llm, "fast")
    response = chat(client, "a cat 16:9")
    assert response.status_code == 200
    assert sf.requests[0].json["prompt"] == llm.reply
    assert f"\n\nOptimized prompt: {llm.reply}\n\n" in response.json()["choices"][0]["message"]["content"]
    sent = llm.requests[0].json
    assert sent["model"] == "deepseek-chat"
    assert sent["messages"][-1] == {"role": "user", "content": "a cat"}
    assert "50 words" in sent["messages"][0]["content"]


@pytest.mark.parametrize("mode", ["think_tags", "closing_think_only", "reasoning_content", "reasoning_field"])
def test_reasoning_mode_keeps_only_the_final_answer(client, vendor, sf, llm, mode):
    llm.mode = mode
    llm.reply = "a lighthouse in fog, oil painting, rocky coast, dim dawn light"
    turn_on_optimizer(llm, "reasoning")
    assert chat(client, "lighthouse").status_code == 200
    assert sf.requests[0].json["prompt"] == llm.reply


def test_an_optimizer_answer_with_a_nul_and_a_lone_surrogate_reaches_vendor_and_ledger_clean(client, vendor, sf, llm):
    llm.reply = "a lantern\x00 at night\ud800, ink wash"
    turn_on_optimizer(llm, "fast")

    response = chat(client, "a lantern")

    assert response.status_code == 200
    assert sf.requests[0].json["prompt"] == "a lantern at night, ink wash"
    assert Generation.objects.get().prompt == "a lantern at night, ink wash"


def test_the_optimizers_answer_is_cut_to_fifty_words(client, vendor, sf, llm):
    llm.reply = ", ".join(f"detail {i}" for i in range(60))
    turn_on_optimizer(llm, "fast")
    chat(client, "a cat")
    assert len(sf.requests[0].json["prompt"].split()) == 50


def test_a_failing_optimizer_falls_back_to_the_users_words(client, vendor, sf, llm):
    llm.default_behaviour = "invalid"
    turn_on_optimizer(llm, "fast")
    response = chat(client, "a red lantern 16:9")
    assert response.status_code == 200
    assert sf.requests[0].json["prompt"] == "a red lantern"


def test_an_empty_optimizer_answer_falls_back_to_the_users_words(client, vendor, sf, llm):
    llm.mode = "empty_length"
    turn_on_optimizer(llm, "reasoning")
    assert chat(client, "a red lantern").status_code == 200
    assert sf.requests[0].json["prompt"] == "a red lantern"


def test_a_slow_optimizer_is_abandoned_at_its_time_budget(client, vendor, sf, llm):
    llm.latency = 5.0
    turn_on_optimizer(llm, "fast", budget=0.5)
    response = chat(client, "a red lantern")
    assert response.status_code == 200
    assert sf.requests[0].json["prompt"] == "a red lantern"
    assert Generation.objects.get().latency_ms < 4000


def test_the_optimizers_keys_rotate_and_fail_over(client, vendor, sf, llm):
    llm.reply = "optimized"
    llm.keys = {"sk-llm-bad-0001": "invalid"}
    turn_on_optimizer(llm, "fast", keys=("sk-llm-bad-0001", "sk-llm-good-0002"))
    for _ in range(2):
        chat(client, "x")
    assert [r.json["prompt"] for r in sf.requests if r.method == "POST"] == ["optimized", "optimized"]


def test_a_key_that_cannot_be_decrypted_is_skipped_not_fatal(client, vendor, sf, caplog):
    VendorKey.objects.filter(label="k1").update(secret_encrypted="gAAAAA-not-a-valid-token")
    for _ in range(3):
        assert chat(client).status_code == 200
    assert KEYS[0] not in sf.keys_used()
    assert "k1 skipped" in caplog.text


def test_an_unreachable_vendor_fails_over_then_answers_502_without_its_address(client, vendor, sf):
    port = sf.port
    sf.stop()
    response = chat(client)
    assert response.status_code == 502
    error = response.json()["error"]
    assert error["code"] == "upstream_error" and "connect" in error["message"]
    assert str(port) not in error["message"] and "127.0.0.1" not in error["message"]


def test_a_rate_limited_key_returns_to_rotation_after_retry_after(client, vendor, sf):
    import time

    sf.retry_after = 1
    sf.keys = {KEYS[0]: "rate_limited"}
    for _ in range(3):
        chat(client)
    assert sf.keys_used().count(KEYS[0]) == 1
    sf.keys = {}
    time.sleep(1.2)
    for _ in range(3):
        chat(client)
    assert sf.keys_used().count(KEYS[0]) == 2


def test_a_client_that_goes_away_still_leaves_a_ledger_row(vendor, sf):
    import asyncio

    from imagegen import pipeline
    from tests.factories import TEST_CALLER

    sf.latency = 2.0

    async def disconnect_midway():
        route = await pipeline.resolve_route("flux-schnell")
        request = pipeline.GenerationRequest(route=route, idea="a cat", caller=TEST_CALLER)
        task = asyncio.create_task(pipeline.generate(request))
        await asyncio.sleep(0.5)
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task

    asyncio.run(disconnect_midway())
    generation = Generation.objects.get()
    assert (generation.status, generation.error_code) == (Generation.Status.FAILED, "client_closed_request")
