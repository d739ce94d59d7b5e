"""Style presets through both endpoints: the style field, --style NAME in chat text, the suffix, the optimizer's
guidance, the negative prompt, the default ratio, the refusals (before any vendor call) and GET /v1/styles.

Real fakes on 127.0.0.1 (SiliconFlow for images, an OpenAI-compatible LLM for the optimizer, both recording what
they were asked), the gateway's own views.
"""

import asyncio
from decimal import Decimal
from functools import partial

import pytest

from imagegen.models import Generation, StylePreset
from imagegen.styles import invalidate_presets
from tests.api import prompt_calls
from tests.api.prompt_calls import REWRITE
from tests.api.prompt_calls import generations_sent as sent
from tests.factories import client_key_row, make_key, make_model, make_vendor
from tests.fakes.openai_images import OpenAIImagesFake
from vendors.models import ModelPrice

pytestmark = pytest.mark.django_db(transaction=True)

CLIENT_KEY = "client-key-for-style-presets-01"
SUFFIX = "watercolor painting, soft edges, paper texture"
GUIDANCE = "Make it a loose watercolor with visible paper grain."
post = partial(prompt_calls.post, key=CLIENT_KEY)
chat = partial(prompt_calls.chat, key=CLIENT_KEY)
images = partial(prompt_calls.images, key=CLIENT_KEY)


@pytest.fixture(autouse=True)
def _bootstrap_key(settings):
    client_key_row(CLIENT_KEY)


@pytest.fixture
def watercolor(flux):
    return StylePreset.objects.create(
        name="watercolor", description="Soft washes", guidance=GUIDANCE, suffix=SUFFIX, negative_prompt="photo, 3d"
    )


@pytest.fixture
def optimizer(llm, flux):
    prompt_calls.optimizer_on(llm)


def system_prompts(llm) -> list[str]:
    return [body["messages"][0]["content"] for body in prompt_calls.llm_requests(llm)]


@pytest.mark.parametrize("endpoint", [chat, images], ids=["chat", "images"])
def test_the_style_field_appends_the_suffix_when_the_optimizer_is_off(client, sf, watercolor, endpoint):
    answer = endpoint(client, style="watercolor")

    assert answer.status_code == 200, answer.content
    assert sent(sf)[0]["prompt"] == f"a sleepy cat, {SUFFIX}"
    assert "style preset: watercolor" in Generation.objects.get().notes


def test_style_names_a_preset_in_chat_text_and_leaves_the_idea(client, sf, watercolor):
    answer = chat(client, "a sleepy cat --style Watercolor on a windowsill")

    assert answer.status_code == 200, answer.content
    assert sent(sf)[0]["prompt"] == f"a sleepy cat on a windowsill, {SUFFIX}"


@pytest.mark.parametrize(
    "text",
    [
        "a watercolor of a sleepy cat",
        "a sleepy cat in the style of watercolor",
        "style: watercolor, a sleepy cat",
        "#watercolor sleepy cat",
        "a sleepy cat, watercolor style",
        "a sleepy cat, art-style watercolor",
    ],
)
def test_prose_naming_a_preset_picks_no_style(client, sf, watercolor, text):
    assert chat(client, text).status_code == 200
    assert sent(sf)[0]["prompt"] == text
    assert "negative_prompt" not in sent(sf)[0]


@pytest.mark.parametrize(
    ("endpoint", "extra", "param"),
    [
        (images, {"style": "oil-paint"}, "style"),
        (chat, {"style": "oil-paint"}, "style"),
        (chat, {"content": "a sleepy cat --style oil-paint"}, "messages"),
    ],
    ids=["images-field", "chat-field", "chat-text"],
)
def test_an_unknown_style_is_a_400_listing_the_presets_before_any_vendor_call(
    client, sf, watercolor, endpoint, extra, param
):
    StylePreset.objects.create(name="noir", enabled=False)
    answer = endpoint(client, **extra)

    assert answer.status_code == 400
    error = answer.json()["error"]
    assert (error["code"], error["param"], error["type"]) == ("style_not_found", param, "invalid_request_error")
    assert "'oil-paint'" in error["message"] and "Presets: watercolor;" in error["message"]
    assert "noir" not in error["message"]  # a disabled preset is not offered
    assert sf.requests == [] and not Generation.objects.exists()


def test_a_disabled_preset_is_refused(client, sf, watercolor):
    StylePreset.objects.filter(pk=watercolor.pk).update(enabled=False)
    invalidate_presets()  # update() sends no signal; an admin save does

    assert images(client, style="watercolor").status_code == 400
    assert sf.requests == []


def test_vivid_and_natural_stay_openai_styles(client, watercolor):
    with OpenAIImagesFake() as openai:
        vendor = make_vendor(name="openai", kind="openai_images", base_url=openai.url + "/v1")
        make_key(vendor, "sk-openai-key-0001")
        make_model(vendor, name="dall-e-3")
        answer = post(client, "/v1/images/generations", {"model": "dall-e-3", "prompt": "a kite", "style": "natural"})

        assert answer.status_code == 200, answer.content
        (generation,) = sent(openai)
        assert (generation["style"], generation["prompt"]) == ("natural", "a kite")


def test_the_guidance_reaches_the_optimizer_and_the_rewrite_has_no_suffix(client, sf, llm, optimizer, watercolor):
    assert chat(client, style="watercolor").status_code == 200

    (system,) = system_prompts(llm)
    assert GUIDANCE in system and "'watercolor'" in system
    assert sent(sf)[0]["prompt"] == REWRITE


def test_without_guidance_the_optimizer_is_asked_to_apply_the_suffix(client, sf, llm, optimizer, watercolor):
    StylePreset.objects.filter(pk=watercolor.pk).update(guidance="")
    invalidate_presets()
    assert images(client, style="watercolor").status_code == 200

    assert SUFFIX in system_prompts(llm)[0]


def test_the_negative_prompt_reaches_a_kind_that_takes_one(client, sf, watercolor):
    assert images(client, style="watercolor").status_code == 200
    assert images(client).status_code == 200

    styled, plain = sent(sf)
    assert styled["negative_prompt"] == "photo, 3d"
    assert "negative_prompt" not in plain


def test_the_default_ratio_applies_when_the_request_names_no_size(client, sf, watercolor):
    StylePreset.objects.filter(pk=watercolor.pk).update(default_ratio="16:9")
    invalidate_presets()
    assert images(client, style="watercolor").status_code == 200
    assert images(client, style="watercolor", size="512x512").status_code == 200
    assert chat(client, "a sleepy cat 9:16", style="watercolor").status_code == 200

    assert [request["image_size"] for request in sent(sf)] == ["1024x576", "512x512", "576x1024"]


def test_an_edited_preset_is_not_served_from_the_optimizer_cache(client, sf, llm, optimizer, watercolor, settings):
    settings.OPTIMIZER_CACHE_SECONDS = 600
    assert chat(client, style="watercolor").status_code == 200
    assert chat(client, style="watercolor").status_code == 200  # cached: same idea, same preset
    assert chat(client).status_code == 200  # no preset: another key
    watercolor.guidance = "Make it a bold ink wash."
    watercolor.save()  # the admin's save: the signal drops this worker's presets
    assert chat(client, style="watercolor").status_code == 200

    assert len(system_prompts(llm)) == 3
    assert "bold ink wash" in system_prompts(llm)[-1]


def test_the_image_cache_tells_presets_apart(client, sf, watercolor, flux):
    ModelPrice.objects.create(model=flux, price_per_image=Decimal("0.04"))
    flux.image_cache_seconds = 3600
    flux.save()
    StylePreset.objects.create(name="plain-neg", negative_prompt="blurry")

    for style in ("plain-neg", "plain-neg", None):
        assert images(client, "a sleepy cat", **({"style": style} if style else {})).status_code == 200
    watercolor_answer = images(client, style="watercolor")

    assert watercolor_answer.status_code == 200
    assert len(sent(sf)) == 3  # the second plain-neg was cached; no preset and watercolor were not


def test_get_styles_lists_the_enabled_presets(client, watercolor):
    StylePreset.objects.create(name="noir", enabled=False)
    StylePreset.objects.create(name="anime", description="Cel shading", default_ratio="2:3")

    answer = client.get("/v1/styles", HTTP_AUTHORIZATION=f"Bearer {CLIENT_KEY}")

    assert answer.status_code == 200
    assert answer.json() == {
        "object": "list",
        "data": [
            {"id": "anime", "object": "style", "description": "Cel shading", "default_ratio": "2:3",
             "negative_prompt": False},
            {"id": "watercolor", "object": "style", "description": "Soft washes", "default_ratio": None,
             "negative_prompt": True},
        ],
    }  # fmt: skip
    assert GUIDANCE not in answer.content.decode() and SUFFIX not in answer.content.decode()


def test_get_styles_needs_a_client_key(client, watercolor):
    answer = client.get("/v1/styles")
    assert answer.status_code == 401
    assert answer.json()["error"]["code"] == "invalid_api_key"


def test_a_streamed_chat_takes_the_style_from_its_text(client, sf, watercolor):
    answer = chat(client, "a sleepy cat --style=watercolor", stream=True)

    body = asyncio.run(read_stream(answer)).decode()

    assert "data: [DONE]" in body and '"error"' not in body
    assert sent(sf)[0]["prompt"] == f"a sleepy cat, {SUFFIX}"
    assert sent(sf)[0]["negative_prompt"] == "photo, 3d"


async def read_stream(response) -> bytes:
    return b"".join([chunk async for chunk in response.streaming_content])
