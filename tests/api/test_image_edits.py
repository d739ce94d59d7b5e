"""POST /v1/images/edits: OpenAI's multipart form, answered like generations, with every refusal before a vendor call.
Real fakes on 127.0.0.1 (OpenAI Images with its edits endpoint and DALL-E 2's traps), the gateway's own views."""

import base64
import hashlib
from decimal import Decimal

import pytest

from imagegen.models import Generation
from tests.factories import client_key_row, make_key, make_model, make_vendor
from tests.fakes.server import jpeg_bytes, png_bytes
from vendors.models import ImageModel, ModelPrice

pytestmark = pytest.mark.django_db(transaction=True)

CLIENT_KEY = "client-key-for-image-edits-01"


@pytest.fixture(autouse=True)
def _bootstrap_key(settings):
    client_key_row(CLIENT_KEY)


@pytest.fixture
def models(openai_fake):
    vendor = make_vendor(name="openai", kind="openai_images", base_url=openai_fake.url + "/v1", timeout=3.0)
    make_key(vendor, "sk-openai-key-aaaa1111", label="o1")
    dall_e = make_model(vendor, name="dall-e-2", upstream_name="dall-e-2", input_images=1, takes_mask=True)
    ModelPrice.objects.create(model=dall_e, price_per_image=Decimal("0.02"))
    make_model(vendor, name="gpt-image-1", upstream_name="gpt-image-1", input_images=16, takes_mask=True)
    make_model(vendor, name="dall-e-3", upstream_name="dall-e-3", input_images=0)
    return vendor


def upload(name: str, data: bytes, content_type: str = "image/png"):
    from django.core.files.uploadedfile import SimpleUploadedFile

    return SimpleUploadedFile(name, data, content_type=content_type)


def edit(client, files: dict, idempotency_key: str | None = None, **fields):
    form = {"model": "dall-e-2", "prompt": "add a red hat", **fields, **files}
    headers = {"HTTP_IDEMPOTENCY_KEY": idempotency_key} if idempotency_key else {}
    return client.post("/v1/images/edits", data=form, HTTP_AUTHORIZATION=f"Bearer {CLIENT_KEY}", **headers)


def sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def error_of(response) -> dict:
    return response.json()["error"]


def test_an_edit_with_a_mask_is_answered_like_generations_and_recorded(client, models, openai_fake):
    image, mask = png_bytes(64, 64), png_bytes(64, 64, (0, 0, 0))

    response = edit(client, {"image": upload("cat.png", image), "mask": upload("mask.png", mask)}, size="256x256")

    assert response.status_code == 200, response.content
    body = response.json()
    [item] = body["data"]
    assert item["url"].startswith("http://testserver/images/")
    assert response.headers["X-Imagegen-Cost"].startswith("0.02")
    [sent] = openai_fake.edits
    assert sent["images"] == [sha(image)] and sent["mask"] == sha(mask)
    assert sent["fields"]["size"] == "256x256" and sent["prompt"] == "add a red hat"
    row = Generation.objects.get()
    assert row.endpoint == "images.edits" and row.status == "success"
    assert [(link.is_mask, link.image.sha256) for link in row.inputs.select_related("image")] == [
        (False, sha(image)),
        (True, sha(mask)),
    ]


def test_several_images_go_as_an_array_in_order(client, models, openai_fake):
    first, second = png_bytes(32, 32, (1, 1, 1)), jpeg_bytes(40, 30)

    response = edit(
        client,
        {"image[]": [upload("a.png", first), upload("b.jpg", second, "image/jpeg")]},
        model="gpt-image-1",
        response_format="b64_json",
    )

    assert response.status_code == 200, response.content
    assert base64.b64decode(response.json()["data"][0]["b64_json"]) == openai_fake.image
    [sent] = openai_fake.edits
    assert sent["images"] == [sha(first), sha(second)]
    [call] = [r for r in openai_fake.requests if r.path == "/v1/images/edits"]
    assert b'name="image[]"' in call.body and b'name="response_format"' not in call.body


@pytest.mark.parametrize(
    ("files", "fields", "code", "param", "words"),
    [
        ({}, {}, "invalid_image", "image", "upload the image to edit"),
        ({"image": upload("x.png", b"not an image")}, {}, "invalid_image", "image", "not a PNG, JPEG or WebP"),
        ({"image": upload("x.png", png_bytes())}, {"model": "dall-e-3"}, "model_does_not_accept_images", "model", ""),
        (
            {"image[]": [upload("a.png", png_bytes()), upload("b.png", png_bytes())]},
            {},
            "too_many_input_images",
            "model",
            "at most 1 input image; 2 were sent",
        ),
        (
            {"image": upload("a.png", png_bytes(64, 64)), "mask": upload("m.png", png_bytes(32, 32))},
            {},
            "invalid_image",
            "mask",
            "must be the size of the image (64x64)",
        ),
        ({"image": upload("a.png", png_bytes())}, {"prompt": ""}, "invalid_request_error", "prompt", ""),
        ({"image": upload("a.png", png_bytes())}, {"n": "99"}, "invalid_request_error", "n", ""),
    ],
)
def test_every_refusal_is_a_clear_400_before_any_vendor_call(
    client, models, openai_fake, files, fields, code, param, words
):
    response = edit(client, files, **fields)

    assert response.status_code == 400, response.content
    error = error_of(response)
    assert code in (error["code"], error["type"]) and error["param"] == param
    assert words in error["message"]
    assert not openai_fake.requests and not Generation.objects.exists()


def test_a_mask_for_a_model_that_takes_none_names_the_models_that_do(client, models, openai_fake, relay_model):
    response = edit(
        client,
        {"image": upload("a.png", png_bytes()), "mask": upload("m.png", png_bytes())},
        model="gemini-image",
    )

    error = error_of(response)
    assert error["code"] == "model_does_not_accept_mask"
    assert "dall-e-2, gpt-image-1" in error["message"]
    assert not openai_fake.requests


@pytest.fixture
def relay_model(models):
    vendor = make_vendor(name="relay", kind="chat_image", base_url="http://127.0.0.1:9/v1")
    make_key(vendor, "sk-relay-key-0000")
    return make_model(vendor, name="gemini-image", input_images=3, takes_mask=True)  # the kind carries no mask


def test_what_the_vendor_refuses_comes_back_as_its_400(client, models, openai_fake):
    # A non-square PNG passes the gateway's checks (gpt-image takes it); DALL-E 2 refuses it, as OpenAI does.
    response = edit(client, {"image": upload("wide.png", png_bytes(64, 32))})

    assert response.status_code == 400
    assert "square PNG" in error_of(response)["message"]


def test_a_json_body_is_a_415(client, models, openai_fake):
    response = client.post(
        "/v1/images/edits",
        data='{"model": "dall-e-2", "prompt": "x"}',
        content_type="application/json",
        HTTP_AUTHORIZATION=f"Bearer {CLIENT_KEY}",
    )

    assert response.status_code == 415 and error_of(response)["code"] == "unsupported_media_type"


def test_the_image_cache_and_idempotency_tell_uploads_apart(client, models, openai_fake):
    dall_e = ImageModel.objects.get(name="dall-e-2")
    dall_e.image_cache_seconds = 600
    dall_e.save()
    red, blue = png_bytes(16, 16, (200, 0, 0)), png_bytes(16, 16, (0, 0, 200))

    first = edit(client, {"image": upload("a.png", red)}, idempotency_key="edit-key-1")
    other = edit(client, {"image": upload("a.png", blue)}, idempotency_key="edit-key-1")
    cached = edit(client, {"image": upload("a.png", red)})
    fresh = edit(client, {"image": upload("a.png", blue)})

    assert first.status_code == 200 and other.status_code == 409
    assert cached.headers.get("X-Imagegen-Cache") == "hit" and fresh.headers.get("X-Imagegen-Cache") is None
    assert [sent["images"] for sent in openai_fake.edits] == [[sha(red)], [sha(blue)]]
