"""Replicate image input: each model's own field by the per-family rule, data URLs, the files API for big files."""

import pytest

from tests.fakes.replicate import ReplicateFake
from tests.vendors.adapters import call, failure_of
from tests.vendors.images.helpers import digest, input_image, noisy_png, openai_mask, white_on_the_left
from vendors import errors
from vendors.adapters.base import ImageRequest, VendorTarget
from vendors.adapters.replicate import ReplicateAdapter, image_field

KEY = "r8_replicate_images_0001"


@pytest.fixture
def fake():
    with ReplicateFake() as server:
        server.polls_to_finish = 1
        yield server


@pytest.fixture
def adapter(fake):
    adapter = ReplicateAdapter(VendorTarget(name="replicate", base_url=fake.url + "/v1", timeout=10.0))
    adapter.poll_first, adapter.poll_max = 0.01, 0.03
    return adapter


def sent_input(fake) -> dict:
    return fake.creates()[0].json["input"]


@pytest.mark.parametrize(
    ("model", "field"),
    [
        ("black-forest-labs/flux-kontext-pro", "input_image"),
        ("black-forest-labs/flux-1.1-pro", "image_prompt"),
        ("black-forest-labs/flux-1.1-pro-ultra", "image_prompt"),
        ("black-forest-labs/flux-dev", "image"),
    ],
)
def test_each_family_gets_the_image_in_its_own_field_as_a_data_url_intact(fake, adapter, model, field):
    image = input_image(fmt="JPEG")

    assert call(adapter, ImageRequest(prompt="in winter", model=model, images=(image,)), KEY)

    assert sent_input(fake)[field].startswith("data:image/jpeg;base64,")
    assert [digest(data) for data in fake.received_images[0]] == [digest(image.data)]


def test_flux_2_gets_a_list_of_images_in_order(fake, adapter):
    images = (input_image(color=(1, 2, 3)), input_image(fmt="WEBP"), input_image(fmt="JPEG"))

    assert call(adapter, ImageRequest(prompt="all three", model="black-forest-labs/flux-2-pro", images=images), KEY)

    assert len(sent_input(fake)["input_images"]) == 3
    assert [digest(data) for data in fake.received_images[0]] == [digest(image.data) for image in images]


def test_flux_fill_gets_the_image_and_a_black_and_white_mask(fake, adapter):
    image, mask = input_image(), openai_mask()
    request = ImageRequest(prompt="a cat", model="black-forest-labs/flux-fill-pro", images=(image,), mask=mask)

    assert call(adapter, request, KEY)

    assert digest(fake.received_images[0][0]) == digest(image.data)
    assert white_on_the_left(fake.received_masks[0])


def test_a_file_over_1_mb_is_uploaded_first_and_its_url_sent(fake, adapter):
    image = noisy_png(640, 640)
    assert len(image.data) > 1_000_000

    assert call(adapter, ImageRequest(prompt="p", model="black-forest-labs/flux-dev", images=(image,)), KEY)

    assert [r.path for r in fake.requests if r.method == "POST"][:1] == ["/v1/files"]
    assert sent_input(fake)["image"].startswith(fake.url + "/v1/files/")
    assert digest(fake.received_images[0][0]) == digest(image.data)


def test_an_image_to_a_model_without_an_image_input_is_refused_with_the_field_named(fake, adapter):
    request = ImageRequest(prompt="p", model="black-forest-labs/flux-schnell", images=(input_image(),))

    error = failure_of(adapter, request, KEY)

    assert type(error) is errors.BadRequest and error.vendor_status == 422
    assert "Additional property image is not allowed" in error.message


def test_a_gif_is_refused_by_the_vendor(fake, adapter):
    request = ImageRequest(prompt="p", model="black-forest-labs/flux-dev", images=(input_image(fmt="GIF"),))

    error = failure_of(adapter, request, KEY)

    assert type(error) is errors.BadRequest and "png, jpeg, webp" in error.message


def test_two_images_for_a_single_image_field_are_refused_before_any_call(fake, adapter):
    request = ImageRequest(prompt="p", model="black-forest-labs/flux-kontext-pro", images=(input_image(),) * 2)

    assert type(failure_of(adapter, request, KEY)) is errors.BadRequest and fake.requests == []


def test_the_field_rule_falls_back_to_image():
    assert image_field("someone/sdxl-img2img") == ("image", False)
    assert image_field("google/nano-banana") == ("image_input", True)
