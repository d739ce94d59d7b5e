"""Input images for the per-kind image-input tests: real PNG / JPEG / WebP bytes, and their hash."""

from __future__ import annotations

import hashlib
import io
import os

from PIL import Image

from vendors.adapters.base import InputImage

MEDIA = {"PNG": "image/png", "JPEG": "image/jpeg", "WEBP": "image/webp", "GIF": "image/gif"}


def input_image(width: int = 96, height: int = 64, fmt: str = "PNG", color=(10, 120, 200)) -> InputImage:
    buffer = io.BytesIO()
    Image.new("RGB", (width, height), color).save(buffer, format=fmt)
    return InputImage(buffer.getvalue(), MEDIA[fmt], width, height)


def openai_mask(width: int = 96, height: int = 64) -> InputImage:
    """OpenAI's mask convention: the left half transparent (change it), the right half opaque (keep it)."""
    image = Image.new("RGBA", (width, height), (0, 0, 0, 255))
    image.paste((0, 0, 0, 0), (0, 0, width // 2, height))
    buffer = io.BytesIO()
    image.save(buffer, format="PNG")
    return InputImage(buffer.getvalue(), "image/png", width, height)


def white_on_the_left(data: bytes) -> bool:
    """Whether a received black-and-white mask marks the left half (white) for change and keeps the right."""
    with Image.open(io.BytesIO(data)) as image:
        grey = image.convert("L")
        width, height = grey.size
        return grey.getpixel((1, height // 2)) == 255 and grey.getpixel((width - 2, height // 2)) == 0


def digest(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def noisy_png(width: int, height: int) -> InputImage:
    """A PNG of random pixels: it does not compress, so its size in bytes is about 3 x width x height."""
    buffer = io.BytesIO()
    Image.frombytes("RGB", (width, height), os.urandom(width * height * 3)).save(buffer, format="PNG")
    return InputImage(buffer.getvalue(), "image/png", width, height)
