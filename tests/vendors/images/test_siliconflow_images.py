"""SiliconFlow image input: image, image2, image3 as base64 data URLs, checked by the fake for each model."""

import pytest

from tests.fakes.siliconflow import SiliconFlowFake
from tests.vendors.adapters import call, failure_of
from tests.vendors.images.helpers import digest, input_image, openai_mask
from vendors import errors
from vendors.adapters.base import ImageRequest, VendorTarget
from vendors.adapters.siliconflow import SiliconFlowAdapter

KEY = "sk-siliconflow-images-0001"


@pytest.fixture
def fake():
    with SiliconFlowFake() as server:
        yield server


@pytest.fixture
def adapter(fake):
    return SiliconFlowAdapter(VendorTarget(name="x", base_url=fake.url + "/v1"))


def test_kolors_gets_its_input_image_as_a_data_url_with_the_bytes_intact(fake, adapter):
    image = input_image(fmt="JPEG")
    request = ImageRequest(prompt="make it autumn", model="Kwai-Kolors/Kolors", images=(image,))

    assert call(adapter, request, KEY)

    [received] = fake.received_images
    assert [digest(data) for data in received] == [digest(image.data)]
    assert fake.requests[0].json["image"].startswith("data:image/jpeg;base64,")


def test_qwen_image_edit_2509_gets_three_images_in_order_and_no_size(fake, adapter):
    images = tuple(
        input_image(color=(index * 60, 10, 10), fmt=fmt) for index, fmt in enumerate(("PNG", "WEBP", "JPEG"))
    )
    request = ImageRequest(
        prompt="the three together", model="Qwen/Qwen-Image-Edit-2509", size_format="none", images=images
    )

    assert call(adapter, request, KEY)

    assert [digest(data) for data in fake.received_images[0]] == [digest(image.data) for image in images]
    assert {"image", "image2", "image3"} <= set(fake.requests[0].json) and "image_size" not in fake.requests[0].json


def test_an_image_to_a_model_that_takes_none_is_refused_by_the_vendor_as_a_bad_request(fake, adapter):
    request = ImageRequest(prompt="x", model="black-forest-labs/FLUX.1-schnell", images=(input_image(),))

    error = failure_of(adapter, request, KEY)

    assert type(error) is errors.BadRequest and error.vendor_status == 400
    assert "image is not supported" in error.message


def test_a_gif_is_refused_by_the_vendor(fake, adapter):
    request = ImageRequest(prompt="x", model="Kwai-Kolors/Kolors", images=(input_image(fmt="GIF"),))

    error = failure_of(adapter, request, KEY)

    assert type(error) is errors.BadRequest and "image must be one of png, jpeg, webp" in error.message


def test_a_fourth_image_or_a_mask_is_refused_before_any_call(fake, adapter):
    four = ImageRequest(prompt="x", model="Qwen/Qwen-Image-Edit-2509", images=(input_image(),) * 4)
    masked = ImageRequest(prompt="x", model="Kwai-Kolors/Kolors", images=(input_image(),), mask=openai_mask())

    assert type(failure_of(adapter, four, KEY)) is errors.BadRequest
    assert "no mask" in failure_of(adapter, masked, KEY).message
    assert fake.requests == []
