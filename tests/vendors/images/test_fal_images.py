"""fal image input: image_url / image_urls / mask_url as data URIs, checked by the fake per model id."""

import pytest

from tests.fakes.fal import FalFake
from tests.vendors.adapters import call, failure_of
from tests.vendors.images.helpers import digest, input_image, openai_mask, white_on_the_left
from vendors import errors
from vendors.adapters.base import ImageRequest, VendorTarget
from vendors.adapters.fal import FalAdapter

KEY = "fal-images-key-0001"


@pytest.fixture
def fake():
    with FalFake() as server:
        server.polls_to_finish = 1
        yield server


@pytest.fixture
def adapter(fake):
    adapter = FalAdapter(VendorTarget(name="fal", base_url=fake.url, timeout=10.0))
    adapter.poll_first, adapter.poll_max = 0.01, 0.03
    return adapter


def sent(fake) -> dict:
    return fake.submits()[0].json


@pytest.mark.parametrize("model", ["fal-ai/flux/dev/image-to-image", "fal-ai/flux-pro/kontext"])
def test_a_single_image_model_gets_image_url_as_a_data_uri_intact(fake, adapter, model):
    image = input_image(fmt="JPEG")

    assert call(adapter, ImageRequest(prompt="in snow", model=model, images=(image,)), KEY)

    assert sent(fake)["image_url"].startswith("data:image/jpeg;base64,") and "image_urls" not in sent(fake)
    assert [digest(data) for data in fake.received_images[0]] == [digest(image.data)]


def test_kontext_multi_gets_a_list_in_order(fake, adapter):
    images = (input_image(color=(9, 9, 9)), input_image(fmt="WEBP"), input_image(fmt="JPEG"))

    assert call(adapter, ImageRequest(prompt="together", model="fal-ai/flux-pro/kontext/max/multi", images=images), KEY)

    assert len(sent(fake)["image_urls"]) == 3
    assert [digest(data) for data in fake.received_images[0]] == [digest(image.data) for image in images]


def test_fill_gets_a_black_and_white_mask_url(fake, adapter):
    image, mask = input_image(), openai_mask()

    assert call(
        adapter, ImageRequest(prompt="a boat", model="fal-ai/flux-pro/v1/fill", images=(image,), mask=mask), KEY
    )

    assert digest(fake.received_images[0][0]) == digest(image.data) and white_on_the_left(fake.received_masks[0])


def test_an_image_to_a_text_to_image_model_fails_the_job_as_a_bad_request(fake, adapter):
    error = failure_of(adapter, ImageRequest(prompt="p", model="fal-ai/flux/schnell", images=(input_image(),)), KEY)

    assert type(error) is errors.BadRequest and error.vendor_status == 422 and "Extra inputs" in error.message


def test_a_gif_fails_the_job_as_a_bad_request(fake, adapter):
    request = ImageRequest(prompt="p", model="fal-ai/flux-pro/kontext", images=(input_image(fmt="GIF"),))

    error = failure_of(adapter, request, KEY)

    assert type(error) is errors.BadRequest and "png, jpeg, webp" in error.message


def test_two_images_for_a_single_image_model_are_refused_before_any_call(fake, adapter):
    request = ImageRequest(prompt="p", model="fal-ai/flux-pro/kontext", images=(input_image(),) * 2)

    assert type(failure_of(adapter, request, KEY)) is errors.BadRequest and fake.requests == []
