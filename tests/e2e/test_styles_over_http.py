"""Style presets and the client's optimizer choice as users meet them: uvicorn in a subprocess, the official
``openai`` package (its ``style`` argument and ``extra_body``), a SiliconFlow fake and an LLM fake on 127.0.0.1."""

from __future__ import annotations

import httpx
import openai
import pytest

from tests.fakes.openai_chat import OpenAIChatFake
from tests.fakes.server import png_bytes
from tests.fakes.siliconflow import SiliconFlowFake
from tests.gateway_process import GatewayProcess

pytestmark = pytest.mark.e2e

CLIENT_KEY = "e2e-styles-client-key-2468"
SUFFIX = "ink wash, sumi-e brushwork"
REWRITE = "a heron in reeds at dawn, mist"
PRESET = (
    "from imagegen.models import StylePreset; StylePreset.objects.create(name='sumi-e', description='Ink wash', "
    f"suffix='{SUFFIX}', negative_prompt='color', default_ratio='2:3')"
)


@pytest.fixture(scope="module")
def fakes():
    with SiliconFlowFake(image=png_bytes(40, 60)) as sf, OpenAIChatFake() as llm:
        llm.reply = REWRITE
        yield sf, llm


@pytest.fixture(scope="module")
def gateway(fakes, tmp_path_factory):
    sf, llm = fakes
    env = {
        "AUTHORIZED_API_KEY": CLIENT_KEY,
        "FLUX_GEN_API_BASE": sf.url + "/v1/images/generations",
        "FLUX_GEN_MODEL": "flux-schnell",
        "FLUX_GEN_API_KEY": "sk-sf-styles-1111",
        "OPENAI_API_BASE": llm.url + "/v1",
        "OPENAI_API_KEY": "sk-llm-styles-2222",
        "OPENAI_MODEL": "deepseek-chat",
    }
    with GatewayProcess(tmp_path_factory.mktemp("styles"), env) as process:
        process.python(PRESET)
        yield process


@pytest.fixture
def client(gateway):
    return openai.OpenAI(base_url=gateway.url + "/v1", api_key=CLIENT_KEY, max_retries=0, timeout=60)


def generations(sf) -> list[dict]:
    return [r.json for r in sf.requests if r.path == "/v1/images/generations"]


def test_get_styles_lists_the_preset(gateway):
    answer = httpx.get(gateway.url + "/v1/styles", headers={"Authorization": f"Bearer {CLIENT_KEY}"}, timeout=30)

    assert answer.status_code == 200
    assert answer.json()["data"] == [
        {"id": "sumi-e", "object": "style", "description": "Ink wash", "default_ratio": "2:3", "negative_prompt": True}
    ]
    assert httpx.get(gateway.url + "/v1/styles", timeout=30).status_code == 401


def test_the_openai_package_picks_a_preset_and_turns_the_optimizer_off(client, fakes):
    sf, llm = fakes
    asked = len(llm.requests)

    client.images.generate(
        model="flux-schnell", prompt="a heron", style="sumi-e", extra_body={"prompt_optimizer": "off"}
    )

    sent = generations(sf)[-1]
    assert (sent["prompt"], sent["negative_prompt"], sent["image_size"]) == (f"a heron, {SUFFIX}", "color", "688x1024")
    assert len(llm.requests) == asked  # off: the LLM was not asked


def test_style_in_chat_text_with_the_optimizer_guided_by_the_suffix(client, fakes):
    sf, llm = fakes

    reply = client.chat.completions.create(
        model="flux-schnell", messages=[{"role": "user", "content": "a heron --style sumi-e"}]
    )

    assert REWRITE in reply.choices[0].message.content
    system = [r.json for r in llm.requests if r.path == "/v1/chat/completions"][-1]["messages"][0]["content"]
    assert SUFFIX in system
    assert generations(sf)[-1]["prompt"] == REWRITE


def test_an_unknown_style_is_refused_before_any_vendor_call(client, fakes):
    sf, _ = fakes
    before = len(sf.requests)

    with pytest.raises(openai.BadRequestError) as refused:
        client.images.generate(model="flux-schnell", prompt="a heron", style="baroque")

    assert refused.value.code == "style_not_found" and "sumi-e" in refused.value.message
    assert len(sf.requests) == before
