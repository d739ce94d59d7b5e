"""An aiohttp load generator: N requests at concurrency C, per-request latency and status.

    async with client_session() as session:
        result = await run_load(session, lambda s: s.get(url), n=1000, concurrency=16)
        print(result.summary())

``run_load`` starts C workers that take request numbers from a shared counter until N are
started or ``max_seconds`` has passed (then no new request starts; those in flight finish or hit
their own timeout). Each request is timed from just before it is sent until its whole body is read.
A request is a success when ``check(status, body)`` says so (default: status 200).

The samples and their summary live in ``load_results.py``; streamed chat completions are read by
``stream_load.py``, on the same workers (``run_workers``).

Run directly for a quick self-check against any URL:

    .venv/bin/python bench/load.py http://127.0.0.1:9100/files/x.png -n 2000 -c 32
"""

from __future__ import annotations

import argparse
import asyncio
import time
from collections.abc import Awaitable, Callable
from contextlib import asynccontextmanager

import aiohttp
from load_results import LoadResult, Sample

RequestFactory = Callable[[aiohttp.ClientSession], object]  # returns an aiohttp request context manager
Check = Callable[[int, bytes], bool]


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


async def run_workers(
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
    return await run_workers(
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

    return await run_workers(one, n=n, concurrency=concurrency, max_seconds=max_seconds)


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
