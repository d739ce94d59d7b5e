"""OpenAI's ``POST /v1/images/edits`` for the OpenAI Images fake: multipart, and the traps of each model.

    fake.edits            # what each edit call brought: [{"model", "prompt", "fields", "images": [sha256...], "mask"}]

Refused as OpenAI refuses (400 ``invalid_request_error``): no ``image``; a file that is not PNG, WebP or JPEG;
DALL-E 2 with more than one image, a non-PNG, a non-square image or one of 4 MB or more; GPT image models with
more than 16 images or one of 50 MB or more; a mask that is not a PNG or not the size of the first image; a
``style`` or ``response_format`` field to a GPT image model. Other models: 404 as for generations.
"""

from __future__ import annotations

import email
import hashlib
import io

from aiohttp import web
from PIL import Image

FOUR_MB, FIFTY_MB = 4 * 1024 * 1024, 50 * 1024 * 1024
TYPES = {"PNG": "png", "JPEG": "jpeg", "WEBP": "webp"}


def _refused(message: str, param: str | None = None) -> web.Response:
    body = {"error": {"message": message, "type": "invalid_request_error", "param": param, "code": "invalid_value"}}
    return web.json_response(body, status=400)


def _probe(data: bytes) -> tuple[str, int, int] | None:
    try:
        with Image.open(io.BytesIO(data)) as image:
            return TYPES.get(image.format or "", ""), image.width, image.height
    except Exception:
        return None


async def read_form(request: web.Request) -> tuple[dict[str, str], list[bytes], bytes | None]:
    """The form's fields, its images in order and its mask (parsed from the body the recorder already read)."""
    head = f"Content-Type: {request.headers['Content-Type']}\r\n\r\n".encode()
    form = email.message_from_bytes(head + await request.read())
    fields: dict[str, str] = {}
    images: list[bytes] = []
    mask = None
    for part in form.get_payload():
        name, data = part.get_param("name", header="content-disposition"), part.get_payload(decode=True)
        if name in ("image", "image[]") and part.get_filename():
            images.append(data)
        elif name == "mask" and part.get_filename():
            mask = data
        else:
            fields[name] = data.decode()
    return fields, images, mask


def refusal(model: str, fields: dict[str, str], images: list[bytes], mask: bytes | None) -> web.Response | None:
    """OpenAI's 400 for what the model does not take; None when it takes it all."""
    if not images:
        return _refused("Missing required parameter: 'image'.", "image")
    probes = [_probe(image) for image in images]
    if any(probe is None or not probe[0] for probe in probes):
        return _refused("Invalid file: unsupported image format. Supported: png, webp, jpeg.", "image")
    if model == "dall-e-2":
        format_, width, height = probes[0]
        if len(images) > 1 or format_ != "png" or width != height or len(images[0]) >= FOUR_MB:
            return _refused("Invalid input image - must be a single square PNG file less than 4 MB.", "image")
    elif len(images) > 16 or any(len(image) >= FIFTY_MB for image in images):
        return _refused("Provide at most 16 images, each less than 50 MB.", "image")
    if model.startswith("gpt-image") and ("style" in fields or "response_format" in fields):
        name = "style" if "style" in fields else "response_format"
        return _refused(f"Unknown parameter: '{name}'.", name)
    if mask is not None:
        found = _probe(mask)
        if found is None or found[0] != "png" or found[1:] != probes[0][1:]:
            return _refused("Invalid mask image - must be a PNG of the same dimensions as the image.", "mask")
    return None


async def edit(fake, request: web.Request) -> web.Response:
    """The edits endpoint of ``OpenAIImagesFake`` (the fake's keys, behaviours and answers)."""
    key, behaviour = fake.behaviour_of(request)
    await fake.pause(behaviour)
    failure = fake._failure(behaviour, key)
    if failure is not None:
        return failure
    fields, images, mask = await read_form(request)
    model = fields.get("model", "dall-e-2")
    fake.edits.append(
        {
            "model": model,
            "prompt": fields.get("prompt"),
            "fields": fields,
            "images": [hashlib.sha256(image).hexdigest() for image in images],
            "mask": hashlib.sha256(mask).hexdigest() if mask is not None else None,
        }
    )
    if model not in ("dall-e-2",) and not model.startswith("gpt-image"):
        message = f"The model '{model}' does not exist or does not support image edits."
        return web.json_response({"error": {"message": message, "type": "invalid_request_error"}}, status=404)
    refused = refusal(model, fields, images, mask)
    if refused is not None:
        return refused
    if not fields.get("prompt"):
        return _refused("Missing required parameter: 'prompt'.", "prompt")
    n = int(fields.get("n", 1))
    payload = {"model": model, "prompt": fields["prompt"], "n": n} | (
        {"size": fields["size"]} if "size" in fields else {}
    )
    return fake._openai(payload, n)
