"""The gateway as users run it: uvicorn in a subprocess, configured by import_env from the seed's
variables, driven by the official ``openai`` package against fake vendors on 127.0.0.1."""

from __future__ import annotations

import base64
import re

import httpx
import openai
import pytest

from tests.fakes.chat_image import ChatImageFake
from tests.fakes.openai_chat import OpenAIChatFake
from tests.fakes.server import png_bytes
from tests.fakes.siliconflow import SiliconFlowFake
from tests.gateway_process import GatewayProcess

pytestmark = pytest.mark.e2e

CLIENT_KEY = "e2e-client-key-5678"
SF_KEYS = ["sk-sf-one-1111", "sk-sf-two-2222"]
IMAGE_LINK = re.compile(r"!\[image\]\((?P<url>[^)]+)\)")


@pytest.fixture(scope="module")
def fakes():
    sf = SiliconFlowFake(image=png_bytes(64, 36, (250, 120, 0))).start()
    relay = ChatImageFake(mode="markdown_data_url").start()
    llm = OpenAIChatFake(mode="think_tags").start()
    llm.reply = "a lighthouse on a cliff, oil painting, stormy sea, dramatic dusk light"
    yield sf, relay, llm
    for fake in (sf, relay, llm):
        fake.stop()


@pytest.fixture(scope="module")
def gateway(fakes, tmp_path_factory):
    sf, relay, llm = fakes
    env = {
        "AUTHORIZED_API_KEY": CLIENT_KEY,
        # The seed's form: the full endpoint URL, comma-separated models and keys.
        "FLUX_GEN_API_BASE": sf.url + "/v1/images/generations",
        "FLUX_GEN_MODEL": "flux-schnell,flux-dev",
        "FLUX_GEN_API_KEY": ",".join(SF_KEYS),
        "IMAGE_GEN_API_BASE_1": relay.url + "/v1",
        "IMAGE_GEN_MODEL_1": "gemini-image",
        "IMAGE_GEN_API_KEY_1": "sk-relay-3333",
        "OPENAI_API_BASE": llm.url + "/v1",
        "OPENAI_API_KEY": "sk-llm-4444",
        "OPENAI_MODEL_REASONING": "deepseek-reasoner",
    }
    with GatewayProcess(tmp_path_factory.mktemp("gateway"), env) as process:
        yield process
        log = process.log()
    for secret in [*SF_KEYS, "sk-relay-3333", "sk-llm-4444", CLIENT_KEY]:
        assert secret not in log, "a key reached the gateway's log"


@pytest.fixture
def client(gateway):
    return openai.OpenAI(base_url=gateway.url + "/v1", api_key=CLIENT_KEY, max_retries=0, timeout=60)


def test_models_list_shows_the_image_models_and_not_the_optimizers_llm(client):
    models = {model.id: model.owned_by for model in client.models.list()}
    assert models == {"flux-schnell": "siliconflow", "flux-dev": "siliconflow", "gemini-image": "image-gen-1"}


def test_a_chat_completion_returns_a_permanent_image_that_outlives_the_vendor(client, fakes, gateway):
    sf, _, llm = fakes
    reply = client.chat.completions.create(
        model="flux-schnell", messages=[{"role": "user", "content": "a lighthouse 16:9"}]
    )
    content = reply.choices[0].message.content
    assert reply.choices[0].finish_reason == "stop"
    assert f"\n\nOptimized prompt: {llm.reply}\n\nModel: flux-schnell · Size: 64x36" in content
    url = IMAGE_LINK.search(content)["url"]
    assert url.startswith(gateway.url + "/images/")
    assert [r.json for r in sf.requests if r.method == "POST"][-1]["image_size"] == "1024x576"
    assert httpx.get(url).content == sf.image

    sf.expire_files()
    sf.stop()
    response = httpx.get(url)
    assert response.status_code == 200 and response.content == sf.image
    assert response.headers["cache-control"] == "public, max-age=31536000, immutable"

    gateway.restart()
    response = httpx.get(url)
    assert response.status_code == 200 and response.content == sf.image


def test_a_chat_image_vendor_works_through_the_same_api(client, fakes):
    _, relay, _ = fakes
    reply = client.chat.completions.create(
        model="gemini-image",
        messages=[
            {"role": "system", "content": "you draw"},
            {"role": "user", "content": [{"type": "text", "text": "a paper lantern"}]},
        ],
    )
    url = IMAGE_LINK.search(reply.choices[0].message.content)["url"]
    assert httpx.get(url).content == relay.image


def test_the_images_api_answers_urls_and_base64_of_the_stored_image(client, fakes):
    _, relay, _ = fakes
    calls = len(relay.requests)

    by_url = client.images.generate(model="gemini-image", prompt="a kite over dunes", size="1280x720", n=2)
    by_b64 = client.images.generate(model="gemini-image", prompt="a kite over dunes", response_format="b64_json")

    assert len(by_url.data) == 2 and by_url.data[0].url != by_url.data[1].url
    assert all(httpx.get(image.url).content == relay.image for image in by_url.data)
    assert base64.b64decode(by_b64.data[0].b64_json) == relay.image
    assert by_url.data[0].revised_prompt
    sent = [r.json for r in relay.requests[calls:]]
    assert [body["image_config"]["aspect_ratio"] for body in sent] == ["16:9", "16:9", "1:1"]


def test_the_images_api_refuses_a_bad_size_with_a_400(client):
    with pytest.raises(openai.BadRequestError) as caught:
        client.images.generate(model="gemini-image", prompt="a kite", size="huge")
    assert caught.value.body["param"] == "size"


def test_an_unknown_model_raises_not_found_listing_the_models(client):
    with pytest.raises(openai.NotFoundError) as caught:
        client.chat.completions.create(model="dall-e-9", messages=[{"role": "user", "content": "x"}])
    assert caught.value.code == "model_not_found"
    assert "flux-schnell" in caught.value.message


def test_a_wrong_client_key_raises_authentication_error(gateway):
    wrong = openai.OpenAI(base_url=gateway.url + "/v1", api_key="sk-wrong-9999", max_retries=0)
    with pytest.raises(openai.AuthenticationError):
        wrong.models.list()


def test_health_answers_for_load_balancers(gateway):
    checks = {"database": "ok", "cache": "ok", "storage": "ok"}
    assert httpx.get(gateway.url + "/health").json() == {"status": "ok", "checks": checks}


def test_the_admin_and_its_static_files_are_served_in_production_mode(gateway):
    page = httpx.get(gateway.url + "/admin/login/")
    assert page.status_code == 200
    stylesheet = re.search(r'href="(/static/admin/css/[^"]+\.css)"', page.text)[1]
    css = httpx.get(gateway.url + stylesheet)
    assert css.status_code == 200 and css.headers["content-type"].startswith("text/css")


def test_import_env_is_idempotent(gateway):
    result = gateway.manage("import_env")
    assert result.returncode == 0, result.stderr
    assert "Everything is unchanged." in result.stdout
