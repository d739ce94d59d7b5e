"""BFL image input: Kontext's input_image fields, FLUX1.1 [pro]'s image_prompt, the fill endpoint's image + mask."""

import base64
import io

import pytest
from PIL import Image

from tests.fakes.bfl import BFLFake
from tests.vendors.adapters import call, failure_of
from tests.vendors.images.helpers import digest, input_image, openai_mask, white_on_the_left
from vendors import errors
from vendors.adapters.base import ImageRequest, InputImage, VendorTarget
from vendors.adapters.bfl import BFLAdapter

KEY = "bfl-images-key-0001"


@pytest.fixture
def fake():
    with BFLFake() as server:
        server.pending_polls = 0
        yield server


@pytest.fixture
def adapter(fake):
    adapter = BFLAdapter(VendorTarget(name="bfl", base_url=fake.url, timeout=10.0))
    adapter.poll_first, adapter.poll_max = 0.01, 0.03
    return adapter


def sent(fake) -> dict:
    return fake.submits()[0].json


def test_kontext_gets_its_images_as_bare_base64_in_input_image_and_input_image_2(fake, adapter):
    images = (input_image(fmt="JPEG"), input_image(fmt="WEBP"))

    assert call(adapter, ImageRequest(prompt="the two side by side", model="flux-kontext-pro", images=images), KEY)

    assert base64.b64decode(sent(fake)["input_image"]) == images[0].data and "input_image_2" in sent(fake)
    assert [digest(data) for data in fake.received_images[0]] == [digest(image.data) for image in images]


def test_flux_pro_1_1_gets_one_image_prompt_beside_its_size(fake, adapter):
    image = input_image()

    assert call(adapter, ImageRequest(prompt="p", model="flux-pro-1.1", width=1024, height=768, images=(image,)), KEY)

    assert {"image_prompt", "width", "height"} <= set(sent(fake))
    assert digest(fake.received_images[0][0]) == digest(image.data)


def test_fill_gets_the_image_and_a_black_and_white_mask_and_no_size(fake, adapter):
    image, mask = input_image(), openai_mask()

    assert call(adapter, ImageRequest(prompt="a hat", model="flux-pro-1.0-fill", images=(image,), mask=mask), KEY)

    assert not {"width", "height", "aspect_ratio"} & set(sent(fake))
    assert digest(fake.received_images[0][0]) == digest(image.data) and white_on_the_left(fake.received_masks[0])


def test_a_mask_of_another_size_is_refused_by_the_vendor(fake, adapter):
    request = ImageRequest(prompt="p", model="flux-pro-1.0-fill", images=(input_image(),), mask=openai_mask(64, 64))

    error = failure_of(adapter, request, KEY)

    assert type(error) is errors.BadRequest and error.vendor_status == 422 and "dimensions" in error.message


def test_a_gif_is_refused_by_the_vendor(fake, adapter):
    error = failure_of(
        adapter, ImageRequest(prompt="p", model="flux-kontext-pro", images=(input_image(fmt="GIF"),)), KEY
    )

    assert type(error) is errors.BadRequest and "png, jpeg, webp" in error.message


@pytest.mark.parametrize(
    "request_",
    [
        ImageRequest(prompt="p", model="flux-dev", images=(input_image(),)),
        ImageRequest(prompt="p", model="flux-kontext-pro", images=(input_image(),) * 5),
        ImageRequest(prompt="p", model="flux-kontext-pro", images=(input_image(),), mask=openai_mask()),
    ],
    ids=["no-image-input", "five-for-kontext", "mask-off-fill"],
)
def test_what_an_endpoint_cannot_take_is_refused_before_any_call(fake, adapter, request_):
    assert type(failure_of(adapter, request_, KEY)) is errors.BadRequest and fake.requests == []


def test_a_mask_already_black_and_white_arrives_with_the_same_pixels(fake, adapter):
    grey = input_image(color=(0, 0, 0))
    with Image.open(io.BytesIO(grey.data)) as canvas:
        canvas.paste((255, 255, 255), (0, 0, grey.width // 2, grey.height))
        buffer = io.BytesIO()
        canvas.convert("L").save(buffer, format="PNG")
    mask = InputImage(buffer.getvalue(), "image/png", grey.width, grey.height)

    assert call(adapter, ImageRequest(prompt="p", model="flux-pro-1.0-fill", images=(input_image(),), mask=mask), KEY)

    assert white_on_the_left(fake.received_masks[0])
