"""POST /v1/images/generations, and n images on the chat path: real fake vendors, real storage."""

import base64
import json
import re

import pytest

from imagegen.models import Generation
from tests.factories import client_key_row, make_key, make_model, make_vendor
from tests.fakes.server import png_bytes
from tests.fakes.siliconflow import SiliconFlowFake

pytestmark = pytest.mark.django_db(transaction=True)

CLIENT_KEY = "client-key-for-images-0001"
IMAGE_LINK = re.compile(r"!\[image\]\((?P<url>[^)]+)\)")


@pytest.fixture(autouse=True)
def _bootstrap_key(settings):
    client_key_row(CLIENT_KEY)


@pytest.fixture
def sf():
    with SiliconFlowFake(image=png_bytes(40, 30, (10, 200, 90))) as fake:
        yield fake


@pytest.fixture
def flux(sf):
    vendor = make_vendor(name="sf", kind="siliconflow", base_url=sf.url + "/v1", timeout=3.0)
    make_key(vendor, "sk-sf-key-aaaa1111", label="k1")
    return make_model(vendor, name="flux-schnell", upstream_name="black-forest-labs/FLUX.1-schnell")


@pytest.fixture
def gemini(relay):
    vendor = make_vendor(name="relay", kind="chat_image", base_url=relay.url + "/v1", timeout=3.0)
    make_key(vendor, "sk-relay-key-bbbb2222", label="r1")
    make_key(vendor, "sk-relay-key-cccc3333", label="r2")
    return make_model(vendor, name="gemini-image")


def post(client, path, body, key=CLIENT_KEY):
    return client.post(path, data=json.dumps(body), content_type="application/json", HTTP_AUTHORIZATION=f"Bearer {key}")


def images(client, **body):
    return post(client, "/v1/images/generations", {"model": "flux-schnell", "prompt": "a red fox", **body})


def served_bytes(client, url: str) -> bytes:
    response = client.get(url.removeprefix("http://testserver"))
    assert response.status_code == 200
    return b"".join(response.streaming_content if response.streaming else [response.content])


def test_an_images_request_answers_openai_images_shape_with_permanent_urls(client, flux, sf):
    response = images(client)

    assert response.status_code == 200, response.content
    body = response.json()
    assert isinstance(body["created"], int)
    [item] = body["data"]
    assert item["url"].startswith("http://testserver/images/")
    assert item["revised_prompt"] == "a red fox" == sf.requests[0].json["prompt"]
    assert body["model"] == "flux-schnell" and body["size"] == "40x30"
    sf.expire_files()
    assert served_bytes(client, item["url"]) == sf.image


def test_b64_json_returns_the_stored_bytes_even_when_the_vendor_gave_a_url(client, flux, sf):
    response = images(client, response_format="b64_json")

    [item] = response.json()["data"]
    assert "url" not in item
    assert base64.b64decode(item["b64_json"]) == sf.image


def test_url_works_when_the_vendor_gave_base64(client, gemini, relay):
    response = images(client, model="gemini-image", response_format="url")

    [item] = response.json()["data"]
    assert served_bytes(client, item["url"]) == relay.image


def test_n_images_from_a_batching_vendor_take_one_call(client, flux, sf):
    response = images(client, n=3)

    assert response.status_code == 200, response.content
    assert len(response.json()["data"]) == 3
    assert len({item["url"] for item in response.json()["data"]}) == 3
    [call] = [r for r in sf.requests if r.path == "/v1/images/generations"]
    assert call.json["batch_size"] == 3
    assert Generation.objects.get().images.count() == 3


def test_a_batch_that_comes_back_short_is_topped_up_one_image_per_call(client, flux, sf):
    sf.default_behaviour = "single"  # FLUX on SiliconFlow ignores batch_size

    response = images(client, n=3)

    assert len(response.json()["data"]) == 3
    api_calls = [r.json for r in sf.requests if r.path == "/v1/images/generations"]
    assert [call.get("batch_size", 1) for call in api_calls] == [3, 1, 1]


def test_n_images_from_a_vendor_that_cannot_batch_are_made_concurrently_with_rotating_keys(client, gemini, relay):
    relay.latency = 0.5

    response = images(client, model="gemini-image", n=2)

    assert len(response.json()["data"]) == 2
    assert sorted(relay.keys_used()) == ["sk-relay-key-bbbb2222", "sk-relay-key-cccc3333"]
    assert Generation.objects.get().key_label in {"r1, r2", "r2, r1"}


def test_when_some_of_n_images_fail_the_others_are_delivered_and_the_answer_says_so(client, gemini, relay):
    relay.keys = {"sk-relay-key-cccc3333": "moderated"}

    response = images(client, model="gemini-image", n=2)

    assert response.status_code == 200, response.content
    body = response.json()
    assert len(body["data"]) == 1
    assert any("1 of 2 images" in note for note in body["notes"])
    generation = Generation.objects.get()
    assert generation.status == Generation.Status.SUCCESS and generation.images.count() == 1
    assert "1 of 2" not in generation.notes and "content policy violation" in generation.notes


def test_n_above_the_limit_is_refused_naming_the_limit(client, flux, settings, sf):
    settings.MAX_IMAGES_PER_REQUEST = 4

    response = images(client, n=5)

    assert response.status_code == 400
    error = response.json()["error"]
    assert error["param"] == "n" and "between 1 and 4" in error["message"]
    assert sf.requests == []


@pytest.mark.parametrize(
    ("body", "param"),
    [
        ({"prompt": None}, "prompt"),
        ({"size": "huge"}, "size"),
        ({"size": "10x10"}, "size"),
        ({"response_format": "png"}, "response_format"),
        ({"n": "three"}, "n"),
        # Text fields take JSON strings, as the published document says; a number is not read as text.
        ({"prompt": 42}, "prompt"),
        ({"user": 0}, "user"),
        ({"quality": 1.5}, "quality"),
    ],
)
def test_bad_fields_get_a_400_naming_the_field(client, flux, body, param, sf):
    response = images(client, **body)

    assert response.status_code == 400
    assert response.json()["error"]["param"] == param
    assert sf.requests == []


def test_a_missing_prompt_is_named(client, flux):
    response = post(client, "/v1/images/generations", {"model": "flux-schnell"})

    assert response.status_code == 400
    assert response.json()["error"]["message"] == "Missing required parameter: 'prompt'."


def test_an_unknown_model_is_a_404_listing_the_models(client, flux):
    response = images(client, model="dall-e-3")

    assert response.status_code == 404
    assert "flux-schnell" in response.json()["error"]["message"]


def test_size_wxh_is_sent_and_auto_leaves_it_to_the_text_or_the_model(client, flux, sf):
    flux.default_size = "768x1024"
    flux.save()

    images(client, size="1280x720")
    images(client, size="auto", prompt="a red fox 16:9")
    images(client, size="auto")

    sent = [r.json["image_size"] for r in sf.requests if r.path == "/v1/images/generations"]
    assert sent == ["1280x720", "1024x576", "768x1024"]


def test_the_ledger_records_the_endpoint_n_user_and_sizes(client, flux):
    images(client, n=2, size="1280x720", user="user-42")

    generation = Generation.objects.get()
    assert (generation.endpoint, generation.n, generation.end_user) == ("images", 2, "user-42")
    assert (generation.requested_size, generation.size, generation.generated_size) == ("1280x720", "1280x720", "40x30")
    assert generation.served_model == "flux-schnell"


def test_images_requires_a_client_key(client, flux):
    response = post(client, "/v1/images/generations", {"model": "flux-schnell", "prompt": "x"}, key="wrong")

    assert response.status_code == 401


def test_images_refuses_get_with_405(client):
    response = client.get("/v1/images/generations", HTTP_AUTHORIZATION=f"Bearer {CLIENT_KEY}")

    assert response.status_code == 405 and response["Allow"] == "POST"


def test_chat_with_n_lists_every_image_and_reports_the_size_made(client, flux, sf):
    body = {"model": "flux-schnell", "n": 2, "messages": [{"role": "user", "content": "a cat 16:9"}]}

    response = post(client, "/v1/chat/completions", body)

    content = response.json()["choices"][0]["message"]["content"]
    urls = IMAGE_LINK.findall(content)
    assert len(urls) == 2 and len(set(urls)) == 2
    assert "Model: flux-schnell · Size: 40x30" in content
    assert sf.requests[0].json["batch_size"] == 2


def test_nulls_for_optional_fields_mean_their_defaults(client, flux, sf):
    body = {"n": None, "size": None, "response_format": None, "quality": None, "style": None, "user": None}

    images_response = images(client, **body)
    chat_body = {"model": "flux-schnell", "messages": [{"role": "user", "content": "a fox"}], "n": None}
    chat_response = post(client, "/v1/chat/completions", {**chat_body, "stream": None, "size": None, "user": None})

    assert images_response.status_code == 200, images_response.content
    assert len(images_response.json()["data"]) == 1 and "url" in images_response.json()["data"][0]
    assert chat_response.status_code == 200, chat_response.content


def test_zero_images_is_refused(client, flux):
    response = images(client, n=0)

    assert response.status_code == 400 and response.json()["error"]["param"] == "n"
