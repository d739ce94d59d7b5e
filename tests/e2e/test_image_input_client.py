"""Images in, end to end: the gateway in a subprocess, configured by import_env (the catalog says which models
take images), the official ``openai`` package's ``images.edit`` and a chat call with an image part, unmodified."""

from __future__ import annotations

import base64
import hashlib
import re

import httpx
import openai
import pytest

from tests.fakes.chat_image import ChatImageFake
from tests.fakes.openai_images import OpenAIImagesFake
from tests.fakes.server import png_bytes
from tests.gateway_process import GatewayProcess

pytestmark = pytest.mark.e2e

CLIENT_KEY = "e2e-client-key-images-in-01"
SECRETS = ["sk-openai-e2e-1111", "sk-relay-e2e-2222", CLIENT_KEY]
IMAGE_LINK = re.compile(r"!\[image\]\((?P<url>[^)]+)\)")


def sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


@pytest.fixture(scope="module")
def fakes():
    openai_fake = OpenAIImagesFake().start()
    relay = ChatImageFake(mode="images_array").start()
    yield openai_fake, relay
    openai_fake.stop()
    relay.stop()


@pytest.fixture(scope="module")
def gateway(fakes, tmp_path_factory):
    openai_fake, relay = fakes
    env = {
        "AUTHORIZED_API_KEY": CLIENT_KEY,
        "IMAGE_GEN_API_BASE_1": openai_fake.url + "/v1",
        "IMAGE_GEN_KIND_1": "openai_images",
        "IMAGE_GEN_MODEL_1": "dall-e-2,gpt-image-1",
        "IMAGE_GEN_API_KEY_1": SECRETS[0],
        "IMAGE_GEN_API_BASE_2": relay.url + "/v1",
        "IMAGE_GEN_KIND_2": "chat_image",
        "IMAGE_GEN_MODEL_2": "gemini-image=google/gemini-2.5-flash-image",
        "IMAGE_GEN_API_KEY_2": SECRETS[1],
    }
    with GatewayProcess(tmp_path_factory.mktemp("gateway"), env) as process:
        yield process
        log = process.log()
    for secret in SECRETS:
        assert secret not in log, "a key reached the gateway's log"


@pytest.fixture
def client(gateway):
    return openai.OpenAI(base_url=gateway.url + "/v1", api_key=CLIENT_KEY, max_retries=0, timeout=60)


def test_images_edit_of_the_openai_package_works_unmodified(client, fakes, tmp_path):
    openai_fake, _ = fakes
    picture, mask = png_bytes(64, 64, (10, 20, 30)), png_bytes(64, 64, (0, 0, 0))
    (tmp_path / "cat.png").write_bytes(picture)
    (tmp_path / "mask.png").write_bytes(mask)

    with open(tmp_path / "cat.png", "rb") as image, open(tmp_path / "mask.png", "rb") as mask_file:
        answer = client.images.edit(image=image, mask=mask_file, prompt="add a red hat", model="dall-e-2")

    assert httpx.get(answer.data[0].url).content == openai_fake.image
    assert openai_fake.edits[-1]["images"] == [sha(picture)] and openai_fake.edits[-1]["mask"] == sha(mask)


def test_images_edit_with_several_images_sends_them_in_order(client, fakes, tmp_path):
    openai_fake, _ = fakes
    pictures = [png_bytes(32, 32, (i, i, i)) for i in (1, 2, 3)]
    handles = []
    for number, data in enumerate(pictures):
        (tmp_path / f"{number}.png").write_bytes(data)
        handles.append(open(tmp_path / f"{number}.png", "rb"))  # noqa: SIM115 (closed below)
    try:
        answer = client.images.edit(image=handles, prompt="one scene of all three", model="gpt-image-1")
    finally:
        for handle in handles:
            handle.close()

    assert len(answer.data) == 1
    assert openai_fake.edits[-1]["images"] == [sha(data) for data in pictures]


def test_a_chat_call_with_an_image_part_reaches_the_image_model(client, fakes):
    _, relay = fakes
    picture = png_bytes(24, 24, (5, 6, 7))
    url = "data:image/png;base64," + base64.b64encode(picture).decode()

    reply = client.chat.completions.create(
        model="gemini-image",
        messages=[
            {
                "role": "user",
                "content": [
                    {"type": "text", "text": "the same at night"},
                    {"type": "image_url", "image_url": {"url": url}},
                ],
            }
        ],
    )

    link = IMAGE_LINK.search(reply.choices[0].message.content)["url"]
    assert httpx.get(link).content == relay.image
    assert relay.received_images[-1] == [picture]


def test_more_chat_images_than_the_model_takes_is_a_bad_request_naming_those_that_take_them(client):
    with pytest.raises(openai.BadRequestError) as caught:
        client.chat.completions.create(
            model="dall-e-2",
            messages=[
                {
                    "role": "user",
                    "content": [
                        {"type": "text", "text": "a mask for the hat"},
                        *[{"type": "image_url", "image_url": {"url": "data:image/png;base64,AAAA"}}] * 2,
                    ],
                }
            ],
        )
    assert caught.value.code == "too_many_input_images"
    assert "gpt-image-1" in caught.value.message and "gemini-image" in caught.value.message
