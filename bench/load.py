"""An aiohttp load generator: N requests at concurrency C, per-request latency and status.

    async with client_session() as session:
        result = await run_load(session, lambda s: s.get(url), n=1000, concurrency=16)
        print(result.summary())

``run_load`` starts C workers that take request numbers from a shared counter until N are
started or ``max_seconds`` has passed (then no new request starts; those in flight finish or hit
their own timeout). Each request is timed from just before it is sent until its whole body is read.
A request is a success when ``check(status, body)`` says so (default: status 200).

``run_stream_load`` does the same for streamed chat completions (server-sent events): each stream
is read as its bytes arrive and summed up in a ``StreamSample`` (time to the role chunk, heartbeat
comments, the largest gap between two arrivals of bytes, image links, finish chunk, ``[DONE]``).
All streams share one event loop: no thread per stream.

Run directly for a quick self-check against any URL:

    .venv/bin/python bench/load.py http://127.0.0.1:9100/files/x.png -n 2000 -c 32
"""

from __future__ import annotations

import argparse
import asyncio
import contextvars
import json
import math
import re
import time
from collections import Counter
from collections.abc import Awaitable, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass, field

import aiohttp

RequestFactory = Callable[[aiohttp.ClientSession], object]  # returns an aiohttp request context manager
Check = Callable[[int, bytes], bool]


def percentile(values: list[float], q: float) -> float:
    """Linear-interpolated percentile (q in 0..100) of ``values``; NaN when empty."""
    if not values:
        return math.nan
    ordered = sorted(values)
    if len(ordered) == 1:
        return ordered[0]
    rank = (len(ordered) - 1) * q / 100.0
    low = math.floor(rank)
    high = min(low + 1, len(ordered) - 1)
    return ordered[low] + (ordered[high] - ordered[low]) * (rank - low)


@dataclass
class Sample:
    latency: float  # seconds
    status: int  # HTTP status, or 0 when the request raised
    ok: bool
    size: int = 0
    error: str = ""  # exception text, or the start of a failing body


@dataclass
class LoadResult:
    n_requested: int
    concurrency: int
    elapsed: float = 0.0
    samples: list[Sample] = field(default_factory=list)
    stopped_by_time: bool = False

    @property
    def ok_latencies(self) -> list[float]:
        return [s.latency for s in self.samples if s.ok]

    @property
    def n_ok(self) -> int:
        return sum(1 for s in self.samples if s.ok)

    @property
    def success_rate(self) -> float:
        return self.n_ok / self.n_requested if self.n_requested else math.nan

    @property
    def rps(self) -> float:
        """Successful requests per second of wall time."""
        return self.n_ok / self.elapsed if self.elapsed > 0 else math.nan

    def pct(self, q: float, *, only_ok: bool = True) -> float:
        values = self.ok_latencies if only_ok else [s.latency for s in self.samples]
        return percentile(values, q)

    def statuses(self) -> dict[str, int]:
        return {str(k): v for k, v in sorted(Counter(s.status for s in self.samples).items())}

    def failures(self, limit: int = 10) -> list[dict]:
        """Distinct failures (status + error text) with how often each happened."""
        counts = Counter((s.status, s.error) for s in self.samples if not s.ok)
        return [{"status": st, "error": err, "count": c} for (st, err), c in counts.most_common(limit)]

    def summary(self) -> dict:
        ok = self.ok_latencies
        return {
            "n": self.n_requested,
            "concurrency": self.concurrency,
            "completed": len(self.samples),
            "ok": self.n_ok,
            "success_rate": self.success_rate,
            "elapsed_s": self.elapsed,
            "rps": self.rps,
            "p50_ms": percentile(ok, 50) * 1000,
            "p90_ms": percentile(ok, 90) * 1000,
            "p99_ms": percentile(ok, 99) * 1000,
            "max_ms": max(ok) * 1000 if ok else math.nan,
            "mean_ms": sum(ok) / len(ok) * 1000 if ok else math.nan,
            "statuses": self.statuses(),
            "failures": self.failures(),
            "stopped_by_time": self.stopped_by_time,
        }


def default_check(status: int, body: bytes) -> bool:
    return status == 200


@asynccontextmanager
async def client_session(timeout: float = 120.0, connect_timeout: float = 30.0, trace_configs=None):
    """A session with no connection limit (so concurrency is set by ``run_load`` alone)."""
    connector = aiohttp.TCPConnector(limit=0, limit_per_host=0, ttl_dns_cache=300, force_close=False)
    client_timeout = aiohttp.ClientTimeout(total=timeout, sock_connect=connect_timeout)
    async with aiohttp.ClientSession(
        connector=connector, timeout=client_timeout, auto_decompress=False, trace_configs=trace_configs
    ) as session:
        yield session


async def timed(session: aiohttp.ClientSession, make_request: RequestFactory, check: Check) -> Sample:
    start = time.perf_counter()
    try:
        async with make_request(session) as response:
            body = await response.read()
            status = response.status
    except (aiohttp.ClientError, TimeoutError, OSError) as exc:
        return Sample(time.perf_counter() - start, 0, False, 0, f"{type(exc).__name__}: {exc}"[:300])
    latency = time.perf_counter() - start
    ok = check(status, body)
    error = "" if ok else body[:300].decode("utf-8", "replace")
    return Sample(latency, status, ok, len(body), error)


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
    last = start
    buffer = b""
    try:
        async with make_request(session) as response:
            sample.headers_at = time.perf_counter() - start
            sample.status = response.status
            while not sample.done:  # bounded by the session's total timeout
                data = await response.content.readany()
                now = time.perf_counter()
                if not data:  # end of the body
                    break
                sample.size += len(data)
                gap, last = now - last, now
                sample.max_gap = gap if math.isnan(sample.max_gap) else max(sample.max_gap, gap)
                buffer += data.replace(b"\r\n", b"\n")
                while b"\n\n" in buffer:
                    block, buffer = buffer.split(b"\n\n", 1)
                    if block.strip():
                        _read_event(sample, block, now - start)
            if not sample.done and buffer.strip():  # an event cut short by the end of the body
                sample.error_event = sample.error_event or f"body ended inside an event: {buffer[:200]!r}"
            await response.read()  # whatever follows [DONE] (normally nothing)
    except (aiohttp.ClientError, TimeoutError, OSError) as exc:
        sample.error = sample.exception = f"{type(exc).__name__}: {exc}"[:300]
    sample.latency = time.perf_counter() - start
    sample.ok = (
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
    if not sample.ok and not sample.error:
        sample.error = stream_failure(sample, min_heartbeats)
    return sample


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
    return await _run_workers(
        lambda: stream_once(session, make_request, min_heartbeats=min_heartbeats),
        n=n,
        concurrency=concurrency,
        max_seconds=max_seconds,
    )


async def _run_workers(
    one: Callable[[], Awaitable[Sample]], *, n: int, concurrency: int, max_seconds: float
) -> LoadResult:
    """``n`` calls of ``one``, at most ``concurrency`` at a time, starting none after ``max_seconds``."""
    result = LoadResult(n_requested=n, concurrency=concurrency)
    started = 0
    deadline = time.perf_counter() + max_seconds

    async def worker() -> None:
        nonlocal started
        while started < n:  # bounded: each pass takes one of the n request numbers
            if time.perf_counter() > deadline:
                result.stopped_by_time = True
                return
            started += 1
            result.samples.append(await one())

    begin = time.perf_counter()
    await asyncio.gather(*(worker() for _ in range(min(concurrency, n))))
    result.elapsed = time.perf_counter() - begin
    return result


async def run_load(
    session: aiohttp.ClientSession,
    make_request: RequestFactory,
    *,
    n: int,
    concurrency: int,
    check: Check = default_check,
    max_seconds: float = 300.0,
) -> LoadResult:
    """Run ``n`` requests, at most ``concurrency`` at a time, starting none after ``max_seconds``."""
    return await _run_workers(
        lambda: timed(session, make_request, check), n=n, concurrency=concurrency, max_seconds=max_seconds
    )


async def run_sequence_load(
    session: aiohttp.ClientSession,
    steps: Callable[[aiohttp.ClientSession], object],
    *,
    n: int,
    concurrency: int,
    max_seconds: float = 300.0,
) -> LoadResult:
    """Like ``run_load`` but each unit of work is ``await steps(session)`` returning (status, ok, error)."""

    async def one() -> Sample:
        start = time.perf_counter()
        try:
            status, ok, error = await steps(session)
        except Exception as exc:  # noqa: BLE001  (any failure of a step is a failed sample)
            status, ok, error = 0, False, f"{type(exc).__name__}: {exc}"[:300]
        return Sample(time.perf_counter() - start, status, ok, 0, error)

    return await _run_workers(one, n=n, concurrency=concurrency, max_seconds=max_seconds)


async def _main(url: str, n: int, concurrency: int) -> None:
    async with client_session() as session:
        result = await run_load(session, lambda s: s.get(url), n=n, concurrency=concurrency, max_seconds=120)
    summary = result.summary()
    print(
        f"{summary['ok']}/{n} ok at c={concurrency}: {summary['rps']:.0f} req/s, "
        f"p50 {summary['p50_ms']:.2f} ms, p99 {summary['p99_ms']:.2f} ms, statuses {summary['statuses']}"
    )
    for failure in summary["failures"]:
        print("  failure:", failure)


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description="GET a URL N times at concurrency C (127.0.0.1 only).")
    parser.add_argument("url")
    parser.add_argument("-n", type=int, default=1000)
    parser.add_argument("-c", type=int, default=16)
    args = parser.parse_args()
    if not args.url.startswith(("http://127.0.0.1:", "http://localhost:")):
        parser.error("this bench only sends traffic to 127.0.0.1")
    asyncio.run(_main(args.url, args.n, args.c))
