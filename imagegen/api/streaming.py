"""Streamed chat completions: progress while the image is made, heartbeats so no proxy idles out.

The generation runs as its own task. The stream reports its steps as ``delta.reasoning_content``
(clients that show reasoning display them), an SSE comment every STREAM_HEARTBEAT_SECONDS while
nothing else is said, then the same Markdown as the non-streamed answer, the finish chunk (with the
cost), the optional usage chunk and ``[DONE]``. A failure after the stream began ends it with an error event
in OpenAI's streamed-error shape and ``[DONE]``. When the client goes away Django cancels the
stream, and the generation task is cancelled with it (vendors that can cancel a job are told).
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from dataclasses import replace

from django.conf import settings
from django.http import HttpRequest, StreamingHttpResponse

from imagegen import pipeline
from imagegen.api import answers
from imagegen.api.errors import openai_error
from imagegen.api.idempotent import NO_KEY, Answered, Guard
from imagegen.client_limits import Admission
from imagegen.generation import GenerationOutcome
from proxy.services import public_url

_FINISHED = object()


def event_stream(events: AsyncIterator[bytes], admission: Admission | None = None) -> StreamingHttpResponse:
    response = StreamingHttpResponse(events, content_type="text/event-stream; charset=utf-8")
    response["Cache-Control"] = "no-cache"
    response["X-Accel-Buffering"] = "no"  # nginx would otherwise hold the heartbeats back
    if admission is not None:
        # The generation gives it back when it ends; this, when the client left before the stream began.
        response._resource_closers.append(admission.release_unclaimed)
    return response


async def chat_events(
    request: HttpRequest,
    generation: pipeline.GenerationRequest,
    completion_id: str,
    include_usage: bool,
    guard: Guard = NO_KEY,
) -> AsyncIterator[bytes]:
    if generation.admission is not None:
        generation.admission.claim()  # from here the stream gives it back, not the response's closer
    steps: asyncio.Queue = asyncio.Queue()
    generation = replace(generation, progress=steps.put_nowait)
    writer = answers.ChunkWriter(completion_id, generation.model)
    task = guard.start(_generated(request, generation, writer))
    task.add_done_callback(lambda _: steps.put_nowait(_FINISHED))
    try:
        yield writer.role()
        while (step := await _next_step(steps)) is not _FINISHED:
            yield writer.heartbeat() if step is None else writer.reasoning(step)
        try:
            outcome, content = task.result()
        except Exception as exc:
            yield writer.error(openai_error(exc).body())
            yield writer.done()
            return
        writer.model = outcome.model
        yield writer.content(content)
        yield writer.finish(outcome)
        if include_usage:
            yield writer.usage(outcome)
        yield writer.done()
    finally:
        # The client went away: stop the work it asked for, unless a retry with its Idempotency-Key is to get it.
        if not guard.keeps_running:
            task.cancel()
            await asyncio.gather(task, return_exceptions=True)
            if generation.admission is not None:  # a task cancelled before it began never gave it back
                await generation.admission.release()


async def _generated(
    request: HttpRequest, generation: pipeline.GenerationRequest, writer: answers.ChunkWriter
) -> Answered[tuple[GenerationOutcome, str]]:
    """The images and the answer's Markdown; and the whole completion, as a replay of the stream gives it."""
    outcome = await pipeline.generate(generation)
    content = answers.chat_content(outcome, [public_url(image, request) for image in outcome.images])
    body = {**answers.chat_completion(writer.id, outcome, content), "created": writer.created}
    return Answered((outcome, content), {"kind": "chat", "body": body}, outcome.generation_id)


async def _next_step(steps: asyncio.Queue) -> object:
    """The next progress step, ``_FINISHED``, or None when a heartbeat is due."""
    try:
        return await asyncio.wait_for(steps.get(), settings.STREAM_HEARTBEAT_SECONDS)
    except TimeoutError:
        return None
