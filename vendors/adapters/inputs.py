"""Input images on the vendors' wire formats: what the kinds that take them share.

``refuse_uncarried`` is the adapter's own last check before a call (the gateway checks each model's
``input_images`` / ``takes_mask`` earlier): a request whose images or mask this call cannot carry is refused
without reaching the vendor, since a vendor that ignored an unknown field would bill for a text-to-image
result nobody asked for. ``black_and_white_mask`` turns OpenAI's mask convention (transparent = change
here) into the one Stability, Workers AI, BFL, Replicate and fal document (white = change, black = keep).
"""

from __future__ import annotations

import io

from PIL import Image, ImageOps

from vendors import errors
from vendors.adapters.base import ImageRequest, InputImage

# How far an image-to-image result may move from the input (0 keeps it, 1 ignores it), sent where the vendor
# needs a value: Stability requires one with an input image, and Workers AI's default of 1 ignores the image.
IMAGE_STRENGTH = 0.7


def refuse_uncarried(request: ImageRequest, *, most: int, mask: bool, model: str = "") -> None:
    """BadRequest when ``request`` holds more input images than ``most``, or a mask the call cannot carry."""
    named = f"the model {model}" if model else "this model"
    if len(request.images) > most:
        if most == 0:
            raise errors.BadRequest(f"{named} takes no input image on this vendor")
        raise errors.BadRequest(f"{named} takes at most {most} input image{'s' if most > 1 else ''} on this vendor")
    if request.mask is not None and not (mask and request.images):
        raise errors.BadRequest(f"{named} takes no mask on this vendor" if not mask else "a mask needs an image")


def black_and_white_mask(mask: InputImage) -> bytes:
    """``mask`` as a greyscale PNG where white marks what to change: its alpha channel inverted when it has one
    (OpenAI's convention, transparent = change), else its grey levels as they are (already black and white)."""
    with Image.open(io.BytesIO(mask.data)) as image:
        if image.mode in ("RGBA", "LA", "PA") or "transparency" in image.info:
            grey = ImageOps.invert(image.convert("RGBA").getchannel("A"))
        else:
            grey = image.convert("L")
    buffer = io.BytesIO()
    grey.save(buffer, format="PNG")
    return buffer.getvalue()
