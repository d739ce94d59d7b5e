"""Streamed chat completions under load: each stream read as its bytes arrive, one event loop for all.

``run_stream_load`` is ``run_load`` for server-sent events: each stream is read with
``content.readany()``, split into SSE events and summed up in a ``StreamSample`` (time to the role
chunk, heartbeat comments, the largest gap between two arrivals of bytes, image links, finish chunk,
``[DONE]``, error events). All streams share one event loop: no thread per stream.
"""

from __future__ import annotations

import contextvars
import json
import math
import re
import time
from dataclasses import dataclass, field

import aiohttp
from load import RequestFactory, run_workers
from load_results import LoadResult, Sample

IMAGE_LINK = re.compile(r"!\[image\]\(([^)\s]+)\)")


@dataclass
class StreamSample(Sample):
    """One streamed chat completion. ``latency`` is the total time, from send to the end of the body.

    Times are seconds since the request was sent; NaN when the thing never came."""

    started: float = 0.0  # perf_counter() at the send
    connected_at: float = math.nan  # a new connection was open (with ``stream_trace``)
    sent_at: float = math.nan  # the request headers were written (with ``stream_trace``)
    headers_at: float = math.nan  # the response's status line and headers
    steps_at: list[float] = field(default_factory=list)  # chunks with ``delta.reasoning_content``
    role_at: float = math.nan  # the first chunk, ``delta.role == "assistant"``
    content_at: float = math.nan  # the chunk with the Markdown
    done_at: float = math.nan  # ``data: [DONE]``
    heartbeats: int = 0  # SSE comments (``: keep-alive``)
    heartbeat_at: list[float] = field(default_factory=list)
    reasoning_steps: int = 0  # chunks with ``delta.reasoning_content``
    max_gap: float = math.nan  # largest time between two arrivals of bytes, from the send to ``[DONE]``
    image_urls: list[str] = field(default_factory=list)
    content_ok: bool = False  # content starting with ``![image](``
    finish: bool = False  # a chunk with ``finish_reason == "stop"``
    done: bool = False
    error_event: str = ""  # the first ``data: {"error": ...}`` event, or an unparsable one
    exception: str = ""  # the client's exception (connection cut, timeout), if any
    events: int = 0


def _read_event(sample: StreamSample, block: bytes, at: float) -> None:
    """Account one SSE event (the text between two blank lines) into ``sample``."""
    sample.events += 1
    text = block.decode("utf-8", "replace").strip("\r\n")
    if text.startswith(":"):
        sample.heartbeats += 1
        sample.heartbeat_at.append(at)
        return
    data = "\n".join(line[5:].lstrip(" ") for line in text.splitlines() if line.startswith("data:"))
    if data == "[DONE]":
        sample.done, sample.done_at = True, at
        return
    try:
        payload = json.loads(data)
    except ValueError:
        sample.error_event = sample.error_event or f"unparsable event: {text[:200]}"
        return
    if not isinstance(payload, dict) or "error" in payload:
        sample.error_event = sample.error_event or json.dumps(payload)[:300]
        return
    for choice in payload.get("choices") or []:
        _read_choice(sample, choice, at)


def _read_choice(sample: StreamSample, choice: dict, at: float) -> None:
    """Account one ``choices[]`` entry of a chunk: role, progress step, content, finish."""
    delta = choice.get("delta") or {}
    if delta.get("role") == "assistant" and math.isnan(sample.role_at):
        sample.role_at = at
    if delta.get("reasoning_content"):
        sample.reasoning_steps += 1
        sample.steps_at.append(at)
    content = delta.get("content")
    if content:
        sample.content_at = at
        sample.content_ok = content.startswith("![image](")
        sample.image_urls += IMAGE_LINK.findall(content)
    if choice.get("finish_reason") == "stop":
        sample.finish = True


_current_stream: contextvars.ContextVar[StreamSample | None] = contextvars.ContextVar("stream", default=None)


def stream_trace() -> aiohttp.TraceConfig:
    """Trace hooks for a session used by ``stream_once``: when the connection opened and the request
    left, so the time to the first chunk splits into the client's share and the server's."""
    trace = aiohttp.TraceConfig()

    async def connected(session, context, params) -> None:
        if (sample := _current_stream.get()) is not None:
            sample.connected_at = time.perf_counter() - sample.started

    async def sent(session, context, params) -> None:
        if (sample := _current_stream.get()) is not None:
            sample.sent_at = time.perf_counter() - sample.started

    trace.on_connection_create_end.append(connected)
    trace.on_request_headers_sent.append(sent)
    return trace


async def stream_once(session: aiohttp.ClientSession, make_request: RequestFactory, *, min_heartbeats: int = 1):
    """Send one streamed request and read its events as they come; a ``StreamSample``.

    A success: status 200, the role chunk, at least ``min_heartbeats`` heartbeat comments, content
    with an image link, the finish chunk, ``[DONE]``, no error event, no exception."""
    sample = StreamSample(latency=math.nan, status=0, ok=False)
    _current_stream.set(sample)  # for ``stream_trace``: each worker is a task of its own
    start = sample.started = time.perf_counter()
    try:
        async with make_request(session) as response:
            sample.headers_at = time.perf_counter() - start
            sample.status = response.status
            rest = await _read_events(sample, response, start)
            if not sample.done and rest.strip():  # an event cut short by the end of the body
                sample.error_event = sample.error_event or f"body ended inside an event: {rest[:200]!r}"
            await response.read()  # whatever follows [DONE] (normally nothing)
    except (aiohttp.ClientError, TimeoutError, OSError) as exc:
        sample.error = sample.exception = f"{type(exc).__name__}: {exc}"[:300]
    sample.latency = time.perf_counter() - start
    sample.ok = stream_complete(sample, min_heartbeats)
    if not sample.ok and not sample.error:
        sample.error = stream_failure(sample, min_heartbeats)
    return sample


async def _read_events(sample: StreamSample, response: aiohttp.ClientResponse, start: float) -> bytes:
    """Read the body as it arrives until ``[DONE]`` or its end; the bytes of an unfinished event."""
    last = start
    buffer = b""
    while not sample.done:  # bounded by the session's total timeout
        data = await response.content.readany()
        now = time.perf_counter()
        if not data:  # end of the body
            break
        sample.size += len(data)
        gap, last = now - last, now
        sample.max_gap = gap if math.isnan(sample.max_gap) else max(sample.max_gap, gap)
        buffer = _take_events(sample, buffer + data.replace(b"\r\n", b"\n"), now - start)
    return buffer


def _take_events(sample: StreamSample, buffer: bytes, at: float) -> bytes:
    """Account every complete event in ``buffer`` (all arrived at ``at``); the incomplete rest."""
    while b"\n\n" in buffer:
        block, buffer = buffer.split(b"\n\n", 1)
        if block.strip():
            _read_event(sample, block, at)
    return buffer


def stream_complete(sample: StreamSample, min_heartbeats: int) -> bool:
    """Whether the stream got everything a success needs (see ``stream_once``)."""
    return (
        not sample.error
        and sample.status == 200
        and not math.isnan(sample.role_at)
        and sample.heartbeats >= min_heartbeats
        and sample.content_ok
        and bool(sample.image_urls)
        and sample.finish
        and sample.done
        and not sample.error_event
    )


def stream_failure(sample: StreamSample, min_heartbeats: int) -> str:
    """What a failed stream lacked, in a few words (for grouping failures)."""
    if sample.status != 200:
        return f"status {sample.status}"
    if sample.error_event:
        return f"error event: {sample.error_event}"
    missing = [
        name
        for name, present in (
            ("role chunk", not math.isnan(sample.role_at)),
            (f"{min_heartbeats} heartbeat(s)", sample.heartbeats >= min_heartbeats),
            ("image content", sample.content_ok and bool(sample.image_urls)),
            ("finish chunk", sample.finish),
            ("[DONE]", sample.done),
        )
        if not present
    ]
    return "missing " + ", ".join(missing)


async def run_stream_load(
    session: aiohttp.ClientSession,
    make_request: RequestFactory,
    *,
    n: int,
    concurrency: int,
    min_heartbeats: int = 1,
    max_seconds: float = 300.0,
) -> LoadResult:
    """Like ``run_load`` for streamed answers: the samples are ``StreamSample``s."""
    return await run_workers(
        lambda: stream_once(session, make_request, min_heartbeats=min_heartbeats),
        n=n,
        concurrency=concurrency,
        max_seconds=max_seconds,
    )
