"""Answers replayed from an ``Idempotency-Key``'s record: the stored answer, marked, costing nothing.

The body is the one the first request got (the same id and ``created``, the same text and image
URLs), with its usage and cost at 0: the replay called no vendor and no optimizer, and the first
request's cost is in the ledger. The headers say so: ``Idempotent-Replayed: true``,
``X-Imagegen-Cost: 0.000000 USD`` and ``x-litellm-response-cost: 0.000000``. A streamed request is
answered as a stream: the role, the same Markdown, the finish chunk, the usage chunk when asked
for, and ``[DONE]``. A stored error (the first request failed after a vendor may have billed) is
answered again with its status. Images taken down or purged since are answered as stored (their
URLs say 410), except in a ``b64_json`` answer, which must read them again: that replay is a 410.
"""

from __future__ import annotations

import base64
from collections.abc import AsyncIterator

from django.conf import settings
from django.http import HttpResponse, JsonResponse

from core.db import run_db
from imagegen.api import streaming
from imagegen.api.answers import ChunkWriter
from imagegen.api.errors import NotFound
from imagegen.api.image_files import ImageGone
from imagegen.costs import ZERO, shown
from proxy.models import StoredImage
from proxy.object_store import read_image

REPLAYED = "Idempotent-Replayed"
# Said after a stored error's own words, which may ask for a retry that would only replay them.
STORED_ERROR_NOTE = (
    " (This is the stored answer of the first request with this Idempotency-Key: a vendor may have billed it, so it "
    "is not run again. Use a new key to generate again.)"
)


def replay_headers() -> dict[str, str]:
    return {REPLAYED: "true", "X-Imagegen-Cost": free_cost(), "x-litellm-response-cost": str(shown(ZERO))}


def free_cost() -> str:
    return f"{shown(ZERO)} {settings.PRICE_CURRENCY}"


def _zeroed(value: object) -> object:
    """Every number of a usage object at 0, its shape kept."""
    if isinstance(value, dict):
        return {name: _zeroed(item) for name, item in value.items()}
    if isinstance(value, bool):
        return value
    if isinstance(value, int | float):
        return type(value)(0)
    return value


def free(body: dict) -> dict:
    """The stored body as a replay answers it: usage and cost at 0."""
    body = dict(body)
    if "usage" in body:
        body["usage"] = _zeroed(body["usage"])
    if "cost" in body:
        body["cost"] = free_cost()
    return body


def stored_error(answer: dict) -> dict:
    error = answer["body"]["error"]
    return {"error": {**error, "message": error["message"] + STORED_ERROR_NOTE}}


def json_answer(answer: dict) -> HttpResponse:
    if answer["kind"] == "error":
        return JsonResponse(stored_error(answer), status=answer["status"], headers={REPLAYED: "true"})
    return JsonResponse(free(answer["body"]), headers=replay_headers())


async def images(answer: dict) -> HttpResponse:
    """An Images API replay; base64 answers read their images again (stored answers keep URLs, not bytes)."""
    if answer["kind"] != "images" or not answer.get("b64"):
        return json_answer(answer)
    body = free(answer["body"])
    contents = [await _read(token) for token in answer["images"]]
    body["data"] = [
        {"b64_json": base64.b64encode(data).decode("ascii"), **item}
        for data, item in zip(contents, body["data"], strict=True)
    ]
    return JsonResponse(body, headers=replay_headers())


async def _read(token: str) -> bytes:
    # From the row, not this worker's index of served images, which may not have heard of a takedown yet.
    stored = await run_db(lambda: StoredImage.objects.filter(token=token).first())
    if stored is None:
        raise NotFound("An image of the stored answer no longer exists.")
    if stored.removed_at is not None:
        raise ImageGone(stored.removal)
    return await read_image(stored.file, stored.byte_size)


def chat(answer: dict, stream: bool, include_usage: bool) -> HttpResponse:
    if not stream:
        return json_answer(answer)
    response = streaming.event_stream(_chat_events(answer, include_usage))
    for name, value in (replay_headers() if answer["kind"] != "error" else {REPLAYED: "true"}).items():
        response[name] = value
    return response


async def _chat_events(answer: dict, include_usage: bool) -> AsyncIterator[bytes]:
    body = answer["body"]
    if answer["kind"] == "error":
        writer = ChunkWriter("", "")
        yield writer.error(stored_error(answer))
        yield writer.done()
        return
    writer = ChunkWriter(body["id"], body["model"])
    writer.created = body["created"]
    yield writer.role()
    yield writer.content(body["choices"][0]["message"]["content"])
    yield writer.finish_costing(free_cost())
    if include_usage:
        yield writer.usage_chunk(free(body)["usage"])
    yield writer.done()
