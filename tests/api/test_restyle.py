"""Style transfer: an input image and a style preset in one request give the image restyled. The image reaches
the vendor intact beside the prompt carrying the preset's suffix and negative prompt, through chat and through
/v1/images/edits. A real SiliconFlow fake on 127.0.0.1 (Kolors takes one input image and a negative prompt)."""

import base64
import json

import pytest

from imagegen.models import Generation, StylePreset
from tests.api.prompt_calls import generations_sent
from tests.factories import client_key_row, make_key, make_model, make_vendor
from tests.fakes.server import png_bytes

pytestmark = pytest.mark.django_db(transaction=True)

CLIENT_KEY = "client-key-for-restyling-0001"
SUFFIX = "ink wash painting, bold brush strokes"
PHOTO = png_bytes(32, 32, (200, 120, 40))


@pytest.fixture
def kolors(sf):
    client_key_row(CLIENT_KEY)
    vendor = make_vendor(name="sf-kolors", kind="siliconflow", base_url=sf.url + "/v1", timeout=3.0)
    make_key(vendor, "sk-kolors-key-cccc3333", label="k1")
    StylePreset.objects.create(name="ink", description="Ink wash", suffix=SUFFIX, negative_prompt="photo, blur")
    return make_model(vendor, name="kolors", upstream_name="Kwai-Kolors/Kolors", input_images=1)


def auth() -> dict:
    return {"HTTP_AUTHORIZATION": f"Bearer {CLIENT_KEY}"}


def assert_restyled(sf, prompt: str) -> None:
    sent = generations_sent(sf)
    assert len(sent) == 1
    assert sent[0]["prompt"] == f"{prompt}, {SUFFIX}"
    assert sent[0]["negative_prompt"] == "photo, blur"
    assert sf.received_images == [[PHOTO]]
    generation = Generation.objects.get()
    assert "style preset: ink" in generation.notes
    assert generation.input_images.count() == 1


def test_a_chat_image_with_a_style_reaches_the_vendor_restyled(client, sf, kolors):
    photo = f"data:image/png;base64,{base64.b64encode(PHOTO).decode()}"
    content = [{"type": "text", "text": "my dog"}, {"type": "image_url", "image_url": {"url": photo}}]
    body = {"model": "kolors", "style": "ink", "messages": [{"role": "user", "content": content}]}

    answer = client.post("/v1/chat/completions", data=json.dumps(body), content_type="application/json", **auth())

    assert answer.status_code == 200, answer.content
    assert_restyled(sf, "my dog")


def test_an_edit_with_a_style_reaches_the_vendor_restyled(client, sf, kolors, tmp_path):
    upload = tmp_path / "dog.png"
    upload.write_bytes(PHOTO)
    with upload.open("rb") as image:
        form = {"model": "kolors", "prompt": "my dog", "style": "ink", "image": image}
        answer = client.post("/v1/images/edits", data=form, **auth())

    assert answer.status_code == 200, answer.content
    assert_restyled(sf, "my dog")


def test_an_unknown_style_with_an_image_is_refused_before_the_vendor(client, sf, kolors, tmp_path):
    upload = tmp_path / "dog.png"
    upload.write_bytes(PHOTO)
    with upload.open("rb") as image:
        form = {"model": "kolors", "prompt": "my dog", "style": "oils", "image": image}
        answer = client.post("/v1/images/edits", data=form, **auth())

    assert answer.status_code == 400
    assert answer.json()["error"]["code"] == "style_not_found"
    assert generations_sent(sf) == []
