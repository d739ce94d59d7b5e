"""What the fakes share to take input images as their vendors do: decode a data URL or base64 field, tell the
format, read the pixel size. Each fake answers the problems in its own vendor's error shape.

``read_image(value, ...)`` returns ``(bytes, None)`` or ``(None, problem)``; the problem is a short English
reason the fake puts in its vendor's error body. Fakes keep what they accepted in ``received_images`` (a list
of bytes, in the order the fields came) so a test compares hashes with what it sent.
"""

from __future__ import annotations

import base64
import binascii
import io

from PIL import Image

FORMATS = {"PNG": "image/png", "JPEG": "image/jpeg", "WEBP": "image/webp", "GIF": "image/gif"}


def image_format(data: bytes) -> str | None:
    """The image's media type, None when it is not an image Pillow can read."""
    try:
        with Image.open(io.BytesIO(data)) as image:
            return FORMATS.get(image.format or "")
    except Exception:  # noqa: BLE001 - any unreadable upload is "not an image"
        return None


def pixel_size(data: bytes) -> tuple[int, int]:
    with Image.open(io.BytesIO(data)) as image:
        return image.size


def read_image(
    value: object,
    *,
    data_url: bool,
    bare_base64: bool = False,
    formats: tuple[str, ...] = ("image/png", "image/jpeg", "image/webp"),
    max_bytes: int | None = None,
) -> tuple[bytes | None, str | None]:
    """One input image field: a data URL (when ``data_url``) or bare base64 (when ``bare_base64``)."""
    if not isinstance(value, str) or not value:
        return None, "must be a string"
    if value.startswith("data:"):
        if not data_url:
            return None, "a data URL is not accepted here"
        header, _, value = value.partition(",")
        if not header.endswith(";base64"):
            return None, "the data URL must be base64"
    elif value.startswith(("http://", "https://")):
        return None, "the fake fetches no URL"
    elif not bare_base64:
        return None, "must be a data URL or an http(s) URL"
    try:
        data = base64.b64decode(value, validate=True)
    except (binascii.Error, ValueError):
        return None, "is not valid base64"
    if max_bytes is not None and len(data) > max_bytes:
        return None, f"is larger than {max_bytes} bytes"
    media_type = image_format(data)
    if media_type not in formats:
        return None, f"must be one of {', '.join(kind.split('/')[1] for kind in formats)}"
    return data, None
