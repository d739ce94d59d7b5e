"""The ``Idempotency-Key`` header at the edge: checked, claimed, and the request's work recorded.

``guard`` runs after the body is validated and the model resolved, before anything is generated:
a malformed key is a 400, a key used with another body a 409, a key whose answer is stored a
replay (``imagegen.api.replays``). Otherwise the request runs through ``Guard.run`` / ``Guard.start``,
which store its answer (or give the key back) before the client hears it. A request with a key is
not cancelled when its client goes away: it finishes, and the client's retry gets its answer.
"""

from __future__ import annotations

import asyncio
import re
from collections.abc import Awaitable
from dataclasses import dataclass
from typing import Generic, TypeVar

from core.errors import GatewayError
from imagegen import idempotency
from imagegen.idempotency import Replay, Ticket
from imagegen.shutdown import keep_running

T = TypeVar("T")

HEADER = "Idempotency-Key"
MAX_LENGTH = 255
# Printable ASCII without spaces: UUIDs, ULIDs, base64 and hex all fit.
KEY_SHAPE = re.compile(r"[\x21-\x7e]+")


class InvalidIdempotencyKey(GatewayError):
    status, code = 400, "invalid_idempotency_key"

    def __init__(self, problem: str) -> None:
        super().__init__(f"Invalid Idempotency-Key header: {problem}", param="Idempotency-Key")


def header_key(request) -> str | None:
    """The request's Idempotency-Key, None without one; a 400 when it is empty, too long or has other characters."""
    value = request.headers.get(HEADER)
    if value is None:
        return None
    if not value:
        raise InvalidIdempotencyKey("it is empty.")
    if len(value) > MAX_LENGTH:
        raise InvalidIdempotencyKey(f"it is {len(value)} characters long; the limit is {MAX_LENGTH}.")
    if not KEY_SHAPE.fullmatch(value):
        raise InvalidIdempotencyKey("use printable ASCII characters without spaces (a UUID, for example).")
    return value


@dataclass(frozen=True)
class Answered(Generic[T]):
    """What the request's work gives: its value for this client, and the answer a replay gives."""

    value: T
    answer: dict
    generation_id: int | None = None


@dataclass(frozen=True)
class Guard:
    ticket: Ticket | None = None
    replay: Replay | None = None

    @property
    def keeps_running(self) -> bool:
        """Whether the work goes on when the client leaves (it has a key to answer on a retry)."""
        return self.ticket is not None

    def start(self, work: Awaitable[Answered[T]]) -> asyncio.Task[T]:
        """The work as a task that records its answer under the key before it returns."""
        task = asyncio.ensure_future(self._recorded(work))
        if self.keeps_running:
            keep_running(task)
        return task

    async def run(self, work: Awaitable[Answered[T]]) -> T:
        if not self.keeps_running:
            return (await work).value
        return await asyncio.shield(self.start(work))

    async def _recorded(self, work: Awaitable[Answered[T]]) -> T:
        if self.ticket is None:
            return (await work).value
        try:
            done = await work
        except GatewayError as exc:
            if exc.vendor_may_have_billed:
                await idempotency.finish(self.ticket, idempotency.error_answer(exc))
            else:
                await idempotency.release(self.ticket)
            raise
        except BaseException:
            await asyncio.shield(idempotency.release(self.ticket))
            raise
        await idempotency.finish(self.ticket, done.answer, done.generation_id)
        return done.value


NO_KEY = Guard()  # a request without an Idempotency-Key


def body_with_inputs(body: object, generation) -> object:
    """The body a key is held to, with the input images' SHA-256s when there are any: an image URL whose
    content changed, or another upload, is another request."""
    if not generation.images and generation.mask is None:
        return body
    return {"body": body, "input_images": generation.input_digests}


async def guard(request, endpoint: str, body: object = None) -> Guard:
    """No key: a plain guard. Else the key is claimed, or its stored answer returned (see ``imagegen.idempotency``).
    ``body`` is what the key is held to (the request's parsed body when not given)."""
    key = header_key(request)
    if key is None:
        return NO_KEY
    found = await idempotency.claim(request.user, key, endpoint, request.data if body is None else body)
    return Guard(replay=found) if isinstance(found, Replay) else Guard(ticket=found)
