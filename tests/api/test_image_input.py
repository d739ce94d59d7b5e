"""Images in through chat ``image_url`` parts: read, checked against the model before any vendor call, sent intact,
kept and linked from the ledger row. Real fakes on 127.0.0.1 (OpenAI Images with its edits, a chat image model,
SiliconFlow that takes no image), the gateway's own views."""

import base64
import hashlib
import io
import json

import pytest
from django.urls import reverse
from PIL import Image

from imagegen.models import Generation, OptimizerSettings
from tests.api.test_idempotency import sse
from tests.factories import client_key_row, make_key, make_model, make_vendor
from tests.fakes.image_host import FakeImageHost
from tests.fakes.openai_chat import OpenAIChatFake
from tests.fakes.server import jpeg_bytes, png_bytes

pytestmark = pytest.mark.django_db(transaction=True)

CLIENT_KEY = "client-key-for-image-input-01"


@pytest.fixture(autouse=True)
def _bootstrap_key(settings):
    client_key_row(CLIENT_KEY)


@pytest.fixture
def gpt_image(openai_fake):
    vendor = make_vendor(name="openai", kind="openai_images", base_url=openai_fake.url + "/v1", timeout=3.0)
    make_key(vendor, "sk-openai-key-aaaa1111", label="o1")
    make_model(vendor, name="dall-e-2", upstream_name="dall-e-2", input_images=1, takes_mask=True)
    return make_model(vendor, name="gpt-image-1", upstream_name="gpt-image-1", input_images=16, takes_mask=True)


@pytest.fixture
def gemini(relay):
    vendor = make_vendor(name="relay", kind="chat_image", base_url=relay.url + "/v1", timeout=3.0)
    make_key(vendor, "sk-relay-key-bbbb2222", label="r1")
    return make_model(vendor, name="gemini-image", upstream_name="google/gemini-2.5-flash-image", input_images=3)


def data_url(data: bytes, kind: str = "png") -> str:
    return f"data:image/{kind};base64,{base64.b64encode(data).decode()}"


def sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def chat(client, model: str, content, key=CLIENT_KEY, **headers):
    body = {"model": model, "messages": [{"role": "user", "content": content}]}
    return client.post(
        "/v1/chat/completions",
        data=json.dumps(body),
        content_type="application/json",
        HTTP_AUTHORIZATION=f"Bearer {key}",
        **headers,
    )


def parts(text: str | None, *urls: str) -> list[dict]:
    found = [{"type": "text", "text": text}] if text is not None else []
    return found + [{"type": "image_url", "image_url": {"url": url}} for url in urls]


def error_of(response) -> dict:
    return response.json()["error"]


def test_a_chat_image_part_reaches_the_chat_image_model_intact_and_is_kept_on_the_ledger_row(client, gemini, relay):
    first, second = png_bytes(20, 20, (1, 2, 3)), jpeg_bytes(24, 16)

    response = chat(client, "gemini-image", parts("make it night", data_url(first), data_url(second, "jpeg")))

    assert response.status_code == 200, response.content
    assert relay.received_images == [[first, second]]
    sent = [r.json for r in relay.requests if r.path == "/v1/chat/completions"][0]
    assert sent["messages"][0]["content"][0] == {"type": "text", "text": "make it night"}
    row = Generation.objects.get()
    links = list(row.inputs.select_related("image"))
    assert [(link.position, link.is_mask, link.image.sha256) for link in links] == [
        (0, False, sha(first)),
        (1, False, sha(second)),
    ]
    assert [link.image.width for link in links] == [20, 24]
    served = client.get(links[0].image.path)
    assert served.status_code == 200
    assert b"".join(served.streaming_content if served.streaming else [served.content]) == first


def test_a_chat_image_goes_to_openai_edits_as_multipart_for_gpt_image(client, gpt_image, openai_fake):
    picture = png_bytes(32, 32)

    response = chat(client, "gpt-image-1", parts("add a hat", data_url(picture)))

    assert response.status_code == 200, response.content
    [edit] = openai_fake.edits
    assert edit["images"] == [sha(picture)] and edit["prompt"] == "add a hat" and edit["model"] == "gpt-image-1"
    assert not [r for r in openai_fake.requests if r.path == "/v1/images/generations"]


def test_a_model_that_takes_no_image_is_a_400_naming_the_models_that_do_and_nothing_is_called(
    client, flux, sf, gemini, relay
):
    response = chat(client, "flux-schnell", parts("make it night", data_url(png_bytes())))

    assert response.status_code == 400
    error = error_of(response)
    assert error["code"] == "model_does_not_accept_images" and error["param"] == "model"
    assert "gemini-image" in error["message"] and "flux-schnell'" in error["message"]
    assert not sf.requests and not relay.requests
    assert not Generation.objects.exists()


def test_an_unknown_input_image_count_counts_as_none(client, relay):
    vendor = make_vendor(name="relay", kind="chat_image", base_url=relay.url + "/v1")
    make_key(vendor, "sk-relay-key-bbbb2222")
    make_model(vendor, name="gemini-image")  # input_images left null: the operator has not said

    response = chat(client, "gemini-image", parts("make it night", data_url(png_bytes())))

    assert error_of(response)["code"] == "model_does_not_accept_images"
    assert "none is configured" in error_of(response)["message"]


def test_more_images_than_the_model_takes_is_a_400(client, gemini, relay):
    response = chat(client, "gemini-image", parts("a collage", *[data_url(png_bytes(8, 8))] * 4))

    error = error_of(response)
    assert response.status_code == 400 and error["code"] == "too_many_input_images"
    assert "at most 3 input images; 4 were sent" in error["message"]
    assert not relay.requests


def test_an_image_without_text_asks_for_a_prompt(client, gemini, relay):
    response = chat(client, "gemini-image", parts(None, data_url(png_bytes())))

    error = error_of(response)
    assert response.status_code == 400 and error["param"] == "messages.0.content"
    assert "say what to do with it" in error["message"]
    assert not relay.requests


@pytest.mark.parametrize(
    ("url", "words"),
    [
        ("data:image/png;base64,not base64!", "not valid base64"),
        ("data:text/plain;base64,aGVsbG8=", "data:image/png;base64"),
        (data_url(b"GIF89a" + b"\0" * 40, "gif"), "not a PNG, JPEG or WebP"),
        ("ftp://example.com/cat.png", "data:image/...;base64 URL or an http(s) URL"),
    ],
)
def test_an_image_that_cannot_be_read_is_a_clear_400_naming_the_part(client, gemini, relay, url, words):
    response = chat(client, "gemini-image", parts("make it night", url))

    error = error_of(response)
    assert response.status_code == 400 and error["code"] == "invalid_image"
    assert error["param"] == "messages.0.content.1.image_url" and words in error["message"]
    assert not relay.requests


def test_an_image_over_the_cap_is_refused_before_decoding(client, gemini, relay, settings):
    settings.INPUT_IMAGE_MAX_BYTES = 1000

    response = chat(client, "gemini-image", parts("make it night", data_url(png_bytes(200, 200, (9, 9, 9)) * 3)))

    assert error_of(response)["code"] == "invalid_image" and "INPUT_IMAGE_MAX_BYTES" in error_of(response)["message"]


def test_images_over_the_total_cap_are_refused(client, gemini, relay, settings):
    picture = png_bytes(40, 40)
    settings.INPUT_IMAGES_MAX_TOTAL_BYTES = len(picture) * 2 - 1

    response = chat(client, "gemini-image", parts("a pair", data_url(picture), data_url(picture)))

    assert "INPUT_IMAGES_MAX_TOTAL_BYTES" in error_of(response)["message"]
    assert not relay.requests


def test_an_image_url_on_a_private_address_is_refused_by_the_fetch_guard(client, gemini, relay):
    with FakeImageHost() as host:
        response = chat(client, "gemini-image", parts("make it night", host.url_for("/image.png")))
        assert not host.requests

    error = error_of(response)
    assert response.status_code == 400 and error["code"] == "invalid_image"
    assert "private network" in error["message"] and "127.0.0.1" not in error["message"]


def test_an_image_url_is_fetched_and_sent_on_as_bytes(client, gemini, relay, settings):
    settings.IMAGE_FETCH_ALLOW_PRIVATE = True  # a self-hosted image host on this machine
    picture = png_bytes(16, 16, (0, 90, 0))
    with FakeImageHost(picture) as host:
        response = chat(client, "gemini-image", parts("make it night", host.url_for("/image.png")))

    assert response.status_code == 200, response.content
    assert relay.received_images == [[picture]]


def test_the_image_of_the_last_user_message_only_is_sent(client, gemini, relay):
    old, new = png_bytes(8, 8, (1, 1, 1)), png_bytes(8, 8, (2, 2, 2))
    body = {
        "model": "gemini-image",
        "messages": [
            {"role": "user", "content": parts("a cat", data_url(old))},
            {"role": "assistant", "content": "![image](https://example.com/x.png)"},
            {"role": "user", "content": parts("now at night", data_url(new))},
        ],
    }
    client.post(
        "/v1/chat/completions",
        data=json.dumps(body),
        content_type="application/json",
        HTTP_AUTHORIZATION=f"Bearer {CLIENT_KEY}",
    )

    assert relay.received_images == [[new]]


def test_a_fallback_that_takes_no_image_is_skipped(client, relay, sf):
    sf_vendor = make_vendor(name="sf", kind="siliconflow", base_url=sf.url + "/v1")
    make_key(sf_vendor, "sk-sf-key-aaaa1111")
    flux = make_model(sf_vendor, name="flux-schnell")
    vendor = make_vendor(name="relay", kind="chat_image", base_url=relay.url + "/v1")
    make_key(vendor, "sk-relay-bad-0000")
    relay.keys = {"sk-relay-bad-0000": "invalid"}
    make_model(vendor, name="gemini-image", input_images=3, fallback=flux)

    with_image = chat(client, "gemini-image", parts("make it night", data_url(png_bytes())))
    text_only = chat(client, "gemini-image", "a cat at night")

    assert with_image.status_code == 502 and "flux-schnell" not in error_of(with_image)["message"]
    assert text_only.status_code == 200, text_only.content
    assert len([r for r in sf.requests if r.method == "POST"]) == 1  # the text-only request's fallback


def picture_with(color) -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", (12, 12), color).save(buffer, format="WEBP")
    return buffer.getvalue()


def test_the_image_cache_keys_on_the_input_image(client, gemini, relay):
    gemini.image_cache_seconds = 600
    gemini.save()
    red, blue = picture_with((200, 0, 0)), picture_with((0, 0, 200))

    answers = [chat(client, "gemini-image", parts("same words", data_url(image, "webp"))) for image in (red, blue, red)]

    assert [answer.status_code for answer in answers] == [200, 200, 200]
    assert relay.received_images == [[red], [blue]]  # the third came from the cache
    assert answers[2].headers.get("X-Imagegen-Cache") == "hit"


def test_an_idempotency_key_is_held_to_the_image_content(client, gemini, relay, settings):
    settings.IMAGE_FETCH_ALLOW_PRIVATE = True
    first = png_bytes(16, 16, (0, 90, 0))
    with FakeImageHost(first) as host:
        url = host.url_for("/image.png")
        answered = chat(client, "gemini-image", parts("night", url), HTTP_IDEMPOTENCY_KEY="edit-0001")
        replayed = chat(client, "gemini-image", parts("night", url), HTTP_IDEMPOTENCY_KEY="edit-0001")
        host.body = png_bytes(16, 16, (90, 0, 0))  # the same URL now holds another picture
        changed = chat(client, "gemini-image", parts("night", url), HTTP_IDEMPOTENCY_KEY="edit-0001")

    assert answered.status_code == 200 and replayed.status_code == 200
    assert replayed.headers.get("Idempotent-Replayed") == "true"
    assert changed.status_code == 409 and error_of(changed)["code"] == "idempotency_key_reused"
    assert relay.received_images == [[first]]


@pytest.fixture
def optimizer():
    with OpenAIChatFake() as fake:
        fake.reply = "turn the scene to night, keep the composition"
        vendor = make_vendor(name="optimizer", kind="openai_chat", base_url=fake.url + "/v1")
        make_key(vendor, "sk-llm-key-0001")
        OptimizerSettings(mode="fast", vendor=vendor, model="deepseek-chat").save()
        yield fake


def test_the_optimizer_cache_keys_on_the_input_image_and_the_optimizer_knows_of_it(client, gemini, relay, optimizer):
    red, blue = picture_with((200, 0, 0)), picture_with((0, 0, 200))

    for image in (red, blue, red):
        assert chat(client, "gemini-image", parts("night", data_url(image, "webp"))).status_code == 200

    asked = [r.json for r in optimizer.requests if r.path == "/v1/chat/completions"]
    assert len(asked) == 2  # the third rewrite came from the optimizer cache
    assert "input image" in asked[0]["messages"][0]["content"]
    assert relay.received_images == [[red], [blue], [red]]


def test_inputs_are_linked_even_when_the_vendor_fails_and_shown_on_the_admin_page(client, gemini, relay, admin_client):
    relay.default_behaviour = "invalid"
    picture = png_bytes(20, 20, (7, 7, 7))

    response = chat(client, "gemini-image", parts("make it night", data_url(picture)))

    assert response.status_code == 502, response.content  # the only key was refused
    row = Generation.objects.get()
    assert row.status == "failed" and [image.sha256 for image in row.input_images.all()] == [sha(picture)]
    page = admin_client.get(reverse("admin:imagegen_generation_change", args=[row.pk])).content.decode()
    assert "Input images" in page and row.input_images.get().path in page and "input 1 of generation" in page


def test_a_streamed_chat_with_an_image_part_streams_the_edit(client, gemini, relay):
    picture = png_bytes(12, 12, (3, 3, 3))
    body = {
        "model": "gemini-image",
        "stream": True,
        "messages": [{"role": "user", "content": parts("night", data_url(picture))}],
    }

    response = client.post(
        "/v1/chat/completions",
        data=json.dumps(body),
        content_type="application/json",
        HTTP_AUTHORIZATION=f"Bearer {CLIENT_KEY}",
    )
    events = "\n\n".join(sse(response))

    assert response.status_code == 200 and "![image](" in events and events.rstrip().endswith("data: [DONE]")
    assert relay.received_images == [[picture]]
    assert Generation.objects.get().endpoint == "chat.stream"


def test_chat_images_reach_the_other_kinds_too(client, sf):
    vendor = make_vendor(name="sf", kind="siliconflow", base_url=sf.url + "/v1", timeout=3.0)
    make_key(vendor, "sk-sf-key-aaaa1111")
    make_model(vendor, name="qwen-edit", upstream_name="Qwen/Qwen-Image-Edit-2509", input_images=3, size_format="none")
    first, second = png_bytes(20, 20, (1, 2, 3)), jpeg_bytes(16, 16)

    response = chat(client, "qwen-edit", parts("put them side by side", data_url(first), data_url(second, "jpeg")))

    assert response.status_code == 200, response.content
    assert sf.received_images == [[first, second]]
