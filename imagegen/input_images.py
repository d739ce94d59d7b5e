"""Images a client sends in (chat ``image_url`` parts, ``POST /v1/images/edits``): read, checked, matched to models.

Everything here runs at the edge, before the optimizer and the first vendor call: a request that
cannot be served with its images is a 400 that costs nothing. A data URL is decoded, an http(s) URL
fetched through the guarded fetcher (``core.fetch``: the same SSRF guard and byte cap as vendor
results, and no origin trusted: the URL is the client's). The bytes are then verified with Pillow
(PNG, JPEG or WebP only) and their pixel size read, within INPUT_IMAGE_MAX_BYTES each and
INPUT_IMAGES_MAX_TOTAL_BYTES together.

A model takes images when its own ``input_images`` says how many (null: unknown, which counts as
none until an operator sets it) and its kind's wire format carries them (the adapter's
``input_image_limit``); a mask likewise needs ``takes_mask`` and ``carries_mask``.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import io
from dataclasses import dataclass

from django.conf import settings
from PIL import Image

from core.db import run_blocking
from core.errors import GatewayError
from core.fetch import ImageFetchFailed, fetch_image_bytes, human_size
from proxy.services import PreparedImage, prepare_image
from vendors.adapters import adapter_class
from vendors.adapters.base import InputImage
from vendors.selectors import ModelRoute, routing_table

INPUT_VENDOR = "(client input)"  # StoredImage.vendor of the images clients send in
FORMATS = {"PNG": "image/png", "JPEG": "image/jpeg", "WEBP": "image/webp"}


class InvalidInputImage(GatewayError):
    status, code = 400, "invalid_image"

    def __init__(self, message: str, param: str) -> None:
        super().__init__(message, param=param)


class ModelRejectsImages(GatewayError):
    status, code = 400, "model_does_not_accept_images"

    def __init__(self, message: str, code: str = "model_does_not_accept_images") -> None:
        super().__init__(message, param="model")
        self.code = code


@dataclass(frozen=True)
class ImageSource:
    """One image as the client named it: bytes (an upload), or a data or http(s) URL; ``param`` says where."""

    param: str
    data: bytes | None = None
    url: str | None = None


def check_count(count: int, param: str) -> None:
    limit = settings.INPUT_IMAGES_MAX_COUNT
    if count > limit:
        message = f"{count} input images were sent; the limit is {limit} (INPUT_IMAGES_MAX_COUNT)."
        raise InvalidInputImage(message, param)


def too_big(param: str) -> InvalidInputImage:
    limit = human_size(settings.INPUT_IMAGE_MAX_BYTES)
    return InvalidInputImage(f"The input image is larger than {limit} (INPUT_IMAGE_MAX_BYTES).", param)


def decode_data_url(url: str, param: str) -> bytes:
    """The bytes of a ``data:image/...;base64,`` URL, refused past the cap before decoding."""
    header, comma, text = url.partition(",")
    if not comma or not header.lower().startswith("data:image/") or not header.lower().endswith(";base64"):
        raise InvalidInputImage("An image data URL must look like data:image/png;base64,<base64>.", param)
    compact = "".join(text.split())
    if len(compact) // 4 * 3 > settings.INPUT_IMAGE_MAX_BYTES + 3:
        raise too_big(param)
    try:
        return base64.b64decode(compact + "=" * (-len(compact) % 4), validate=True)
    except (binascii.Error, ValueError):
        raise InvalidInputImage("The image data URL is not valid base64.", param) from None


def verify(data: bytes, param: str) -> InputImage:
    """The bytes as an ``InputImage``: a PNG, JPEG or WebP that Pillow reads whole (CPU: run in a thread)."""
    if len(data) > settings.INPUT_IMAGE_MAX_BYTES:
        raise too_big(param)
    try:
        with Image.open(io.BytesIO(data), formats=list(FORMATS)) as probe:
            probe.verify()
        with Image.open(io.BytesIO(data), formats=list(FORMATS)) as image:
            found, (width, height) = image.format, image.size
    except Exception:  # Pillow raises many types (OSError, SyntaxError, DecompressionBombError, ...)
        raise InvalidInputImage("The input image is not a PNG, JPEG or WebP image that can be read.", param) from None
    if found not in FORMATS or width <= 0 or height <= 0:
        raise InvalidInputImage("The input image is not a PNG, JPEG or WebP image that can be read.", param)
    return InputImage(data=data, content_type=FORMATS[found], width=width, height=height)


async def read(source: ImageSource) -> InputImage:
    data = source.data
    if data is None:
        url = (source.url or "").strip()
        if url.lower().startswith("data:"):
            data = decode_data_url(url, source.param)
        elif url.lower().startswith(("http://", "https://")):
            try:
                data, _ = await fetch_image_bytes(url)
            except ImageFetchFailed as exc:
                raise InvalidInputImage(f"The input image could not be fetched: {exc.message}.", source.param) from exc
        else:
            raise InvalidInputImage("An image URL must be a data:image/...;base64 URL or an http(s) URL.", source.param)
    return await run_blocking(verify, data, source.param)


async def read_all(
    sources: list[ImageSource], mask: ImageSource | None = None
) -> tuple[tuple[InputImage, ...], InputImage | None]:
    """The images (in order) and the mask, verified; refused past INPUT_IMAGES_MAX_TOTAL_BYTES together."""
    found = await asyncio.gather(*(read(source) for source in [*sources, *([mask] if mask else [])]))
    total = sum(len(image.data) for image in found)
    if total > settings.INPUT_IMAGES_MAX_TOTAL_BYTES:
        limit = human_size(settings.INPUT_IMAGES_MAX_TOTAL_BYTES)
        param = sources[0].param if sources else "image"
        raise InvalidInputImage(f"The input images add up to more than {limit} (INPUT_IMAGES_MAX_TOTAL_BYTES).", param)
    if mask is None:
        return tuple(found), None
    images, mask_image = tuple(found[:-1]), found[-1]
    if images and (mask_image.width, mask_image.height) != (images[0].width, images[0].height):
        # Every vendor that takes a mask wants it the size of the image it applies to (the first one).
        size = f"{images[0].width}x{images[0].height}"
        message = f"The mask is {mask_image.width}x{mask_image.height}; it must be the size of the image ({size})."
        raise InvalidInputImage(message, mask.param)
    return images, mask_image


def most_taken(route: ModelRoute) -> int:
    """How many input images ``route`` takes: the model's own number (null: none), within what its kind carries."""
    try:
        kind = adapter_class(route.vendor.kind)
    except LookupError:
        return 0
    return min(route.input_images or 0, getattr(kind, "input_image_limit", 0))


def takes(route: ModelRoute, count: int, mask: bool) -> bool:
    """Whether ``route`` can be sent ``count`` input images, and a mask when ``mask``."""
    if count > most_taken(route):
        return False
    return not mask or (route.takes_mask and getattr(adapter_class(route.vendor.kind), "carries_mask", False))


async def check_model_takes(route: ModelRoute, count: int, mask: bool, allows=lambda name: True) -> None:
    """A 400 naming the models that do, when ``route`` cannot take these images (checked before any vendor call)."""
    if count == 0 or takes(route, count, mask):
        return
    table = await routing_table()
    able = [name for name, other in sorted(table.models.items()) if allows(name) and takes(other, count, mask)]
    others = ", ".join(able) or "none is configured"
    most = most_taken(route)
    if most >= count:
        message = f"Model '{route.name}' does not take a mask. Models that do: {others}."
        raise ModelRejectsImages(message, "model_does_not_accept_mask")
    if most:
        message = (
            f"Model '{route.name}' takes at most {most} input image{'s' if most > 1 else ''}; {count} were sent. "
            f"Models that take {count}: {others}."
        )
        raise ModelRejectsImages(message, "too_many_input_images")
    raise ModelRejectsImages(f"Model '{route.name}' does not accept input images. Models that do: {others}.")


async def keep(images: tuple[InputImage, ...], mask: InputImage | None) -> list[PreparedImage]:
    """The input images (then the mask) written to storage like results, content-addressed; recorded with the row."""
    everything = [*images, *([mask] if mask is not None else [])]
    return list(
        await asyncio.gather(
            *(
                prepare_image(data=image.data, content_type=image.content_type, vendor=INPUT_VENDOR)
                for image in everything
            )
        )
    )
