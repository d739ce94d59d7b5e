"""Workers AI image input: image_b64 for the img2img / inpainting models, a mask as an array of bytes."""

import pytest

from tests.fakes.workers_ai import WorkersAIFake, account_key
from tests.vendors.adapters import call, failure_of
from tests.vendors.images.helpers import digest, input_image, openai_mask, white_on_the_left
from vendors import errors
from vendors.adapters.base import ImageRequest, VendorTarget
from vendors.adapters.workers_ai import WorkersAIAdapter

IMG2IMG = "@cf/runwayml/stable-diffusion-v1-5-img2img"
INPAINTING = "@cf/runwayml/stable-diffusion-v1-5-inpainting"


@pytest.fixture
def fake():
    with WorkersAIFake() as server:
        yield server


@pytest.fixture
def adapter(fake):
    return WorkersAIAdapter(VendorTarget(name="x", base_url=fake.url + "/client/v4"))


@pytest.fixture
def key(fake):
    return account_key(fake, "cf-token-images-0001")


def test_img2img_gets_the_image_as_base64_intact_with_a_strength(fake, adapter, key):
    image = input_image(512, 512, fmt="JPEG")

    assert call(adapter, ImageRequest(prompt="as a lion", model=IMG2IMG, width=512, height=512, images=(image,)), key)

    assert [digest(data) for data in fake.received_images[0]] == [digest(image.data)]
    sent = fake.requests[0].json
    assert isinstance(sent["image_b64"], str) and 0 < sent["strength"] < 1 and "mask" not in sent


def test_inpainting_gets_the_mask_as_bytes_white_where_the_openai_mask_was_transparent(fake, adapter, key):
    image, mask = input_image(512, 512), openai_mask(512, 512)
    request = ImageRequest(prompt="a window", model=INPAINTING, width=512, height=512, images=(image,), mask=mask)

    assert call(adapter, request, key)

    assert digest(fake.received_images[0][0]) == digest(image.data)
    assert isinstance(fake.requests[0].json["mask"], list) and white_on_the_left(fake.received_masks[0])


@pytest.mark.parametrize(
    ("model", "mask", "problem"),
    [
        ("@cf/stabilityai/stable-diffusion-xl-base-1.0", None, "takes no such property"),
        (IMG2IMG, openai_mask(), "'/mask': this model takes no such property"),
    ],
)
def test_an_image_or_a_mask_the_model_does_not_take_is_refused_by_the_vendor(fake, adapter, key, model, mask, problem):
    request = ImageRequest(prompt="p", model=model, width=512, height=512, images=(input_image(),), mask=mask)

    error = failure_of(adapter, request, key)

    assert type(error) is errors.BadRequest and error.vendor_status == 400 and problem in error.message


def test_a_gif_is_refused_by_the_vendor(fake, adapter, key):
    request = ImageRequest(prompt="p", model=IMG2IMG, width=512, height=512, images=(input_image(fmt="GIF"),))

    error = failure_of(adapter, request, key)

    assert type(error) is errors.BadRequest and "png, jpeg, webp" in error.message


def test_two_images_are_refused_before_any_call(fake, adapter, key):
    request = ImageRequest(prompt="p", model=IMG2IMG, images=(input_image(), input_image()))

    assert type(failure_of(adapter, request, key)) is errors.BadRequest and fake.requests == []
