"""Stability image input: sd3 / ultra image-to-image and edit/inpaint with a mask, multipart files."""

import pytest

from tests.fakes.stability import StabilityFake
from tests.vendors.adapters import call, failure_of
from tests.vendors.images.helpers import digest, input_image, openai_mask, white_on_the_left
from vendors import errors
from vendors.adapters.base import ImageRequest, VendorTarget
from vendors.adapters.stability import StabilityAdapter

KEY = "sk-stability-images-0001"


@pytest.fixture
def fake():
    with StabilityFake() as server:
        yield server


@pytest.fixture
def adapter(fake):
    return StabilityAdapter(VendorTarget(name="x", base_url=fake.url + "/v2beta"))


def test_sd3_image_to_image_sends_the_file_intact_with_mode_and_strength_and_no_ratio(fake, adapter):
    image = input_image(fmt="WEBP")

    assert call(adapter, ImageRequest(prompt="in oils", model="sd3.5-large", images=(image,)), KEY)

    assert fake.requests[0].path == "/v2beta/stable-image/generate/sd3"
    assert [digest(data) for data in fake.received_images[0]] == [digest(image.data)]
    form = fake.forms[0]
    assert form["mode"] == "image-to-image" and 0 < float(form["strength"]) < 1 and "aspect_ratio" not in form


def test_ultra_takes_the_image_with_a_strength(fake, adapter):
    image = input_image(fmt="JPEG")

    assert call(adapter, ImageRequest(prompt="at night", model="stable-image-ultra", images=(image,)), KEY)

    assert fake.requests[0].path.endswith("/generate/ultra") and "mode" not in fake.forms[0]
    assert digest(fake.received_images[0][0]) == digest(image.data)


def test_a_mask_goes_to_inpaint_white_where_the_openai_mask_was_transparent(fake, adapter):
    image, mask = input_image(), openai_mask()
    request = ImageRequest(prompt="a red door", model="sd3.5-large", images=(image,), mask=mask, negative_prompt="blur")

    assert call(adapter, request, KEY)

    assert fake.requests[0].path == "/v2beta/stable-image/edit/inpaint"
    assert digest(fake.received_images[0][0]) == digest(image.data)
    assert white_on_the_left(fake.received_masks[0])
    assert fake.forms[0]["negative_prompt"] == "blur" and "model" not in fake.forms[0]


def test_a_base_naming_a_generate_service_still_sends_a_mask_to_inpaint(fake):
    adapter = StabilityAdapter(VendorTarget(name="x", base_url=fake.url + "/v2beta/stable-image/generate/sd3"))
    request = ImageRequest(prompt="p", model="sd3.5-large", images=(input_image(),), mask=openai_mask())

    assert call(adapter, request, KEY)

    assert fake.requests[0].path == "/v2beta/stable-image/edit/inpaint"


@pytest.mark.parametrize(
    ("image", "problem"),
    [
        (input_image(400, 100), "aspect ratio"),
        (input_image(3200, 3200, fmt="JPEG", color=(0, 0, 0)), "pixel count"),
        (input_image(48, 64), "at least 64 pixels"),
        (input_image(fmt="GIF"), "jpeg, png or webp"),
    ],
)
def test_images_stability_refuses_are_bad_requests_naming_the_rule(fake, adapter, image, problem):
    error = failure_of(adapter, ImageRequest(prompt="p", model="sd3.5-large", images=(image,)), KEY)

    assert type(error) is errors.BadRequest and error.vendor_status == 400 and problem in error.message


def test_core_takes_no_image_and_is_refused_before_any_call(fake, adapter):
    error = failure_of(adapter, ImageRequest(prompt="p", model="stable-image-core", images=(input_image(),)), KEY)

    assert type(error) is errors.BadRequest and fake.requests == []
