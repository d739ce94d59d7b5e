"""(d) Streaming holding power: N (500) streamed chat completions at once against a 30 s fake.

A stream succeeds only with the role chunk at once, heartbeats while the vendor works, the image
link, the finish chunk and ``[DONE]``; per stream it keeps the largest silence, which must stay
under heartbeat + slack. Afterwards a sample of the image URLs, taken evenly across the successful
streams, is fetched back from the gateway.
"""

from __future__ import annotations

import aiohttp
from bench_requests import chat_request
from fake_vendor_process import FakeVendorProcess
from holding import Held, held_figures, hold, idle_figures
from load import client_session
from load_results import LoadResult
from stream_figures import gap_figures, heartbeat_figures, stream_counts, stream_timings, tail_figures
from stream_load import run_stream_load, stream_trace


async def scenario_d(gateway, client_key: str, fake: FakeVendorProcess, args) -> dict:
    stream = chat_request(gateway.url, client_key, stream=True)
    fake.set_latency(0)
    expected = fake.health()["image_bytes"]
    await _warm_up(stream, args)
    idle = idle_figures(gateway.process.pid, threads=True)
    latency, n = args.stream_latency, args.stream_holding

    async def all_at_once() -> LoadResult:
        # A fresh session with no connection limit: every stream has its own connection, like N clients.
        async with client_session(timeout=latency + 120, trace_configs=[stream_trace()]) as session:
            return await run_stream_load(session, stream, n=n, concurrency=n, min_heartbeats=1, max_seconds=60)

    held = await hold(gateway, fake, latency=latency, sample_seconds=latency + 300, load=all_at_once)
    urls = [x.image_urls[0] for x in held.result.samples if x.ok and x.image_urls]
    async with client_session() as session:
        verified = await verify_images(session, spread(urls, args.stream_verify), gateway.url, expected)
    out = streaming_figures(held, args, idle, verified)
    _print_outcome(out, latency)
    return out


async def _warm_up(stream, args) -> None:
    """A few streams at latency 0, which must all succeed: else streaming does not work at all."""
    async with client_session() as session:
        warm = await run_stream_load(session, stream, n=min(args.warmup, 20), concurrency=4, min_heartbeats=0)
    if warm.n_ok != warm.n_requested:
        raise RuntimeError(f"(d) warm-up streams failed: {warm.summary()['failures']}")


async def verify_images(session: aiohttp.ClientSession, urls: list[str], gateway_url: str, expected: int) -> dict:
    """GET each URL once: it must be the gateway's, answer 200 with a PNG of ``expected`` bytes."""
    checked = []
    for url in urls:
        entry: dict = {"url": url, "gateway_url": url.startswith(gateway_url + "/images/")}
        try:
            async with session.get(url) as response:
                body = await response.read()
            entry.update(status=response.status, bytes=len(body), content_type=response.content_type)
            entry["ok"] = (
                entry["gateway_url"]
                and response.status == 200
                and body.startswith(b"\x89PNG\r\n\x1a\n")
                and len(body) == expected
            )
        except (aiohttp.ClientError, TimeoutError, OSError) as exc:
            entry.update(ok=False, error=f"{type(exc).__name__}: {exc}"[:300])
        checked.append(entry)
    return {
        "checked": len(checked),
        "ok": sum(entry["ok"] for entry in checked),
        "expected_bytes": expected,
        "failures": [entry for entry in checked if not entry["ok"]][:10],
    }


def spread(items: list, count: int) -> list:
    """``count`` items taken evenly across ``items`` (all of them when there are fewer)."""
    if len(items) <= count:
        return list(items)
    step = len(items) / count
    return [items[int(i * step)] for i in range(count)]


def streaming_figures(held: Held, args, idle: dict, verified: dict) -> dict:
    """Everything (d) reports, in ``latest.json``'s order."""
    latency, heartbeat = args.stream_latency, args.stream_heartbeat
    limit = heartbeat + args.stream_gap_slack
    samples = held.result.samples
    ok = [x for x in samples if x.ok]
    s = held.result.summary()
    out = {"latency_s": latency, "heartbeat_s": heartbeat, "gap_limit_s": limit, "result": s}
    out |= stream_counts(samples)
    out |= stream_timings(samples, ok, latency)
    out |= heartbeat_figures(samples, ok)
    out |= gap_figures(samples, limit)
    out |= tail_figures(ok, s, latency)
    out["images_verified"] = verified
    out |= idle
    out |= held_figures(held)
    cpu = held.cpu.used
    out["gateway_cpu_ms_per_stream"] = cpu["gateway_cpu_s"] * 1000 / max(len(samples), 1)
    out["gateway_cpu_pct_of_one_core"] = 100 * cpu["gateway_cpu_s"] / cpu["wall_s"]
    return out


def _print_outcome(out: dict, latency: float) -> None:
    s, verified = out["result"], out["images_verified"]
    print(
        f"  (d) {s['ok']}/{s['n']} streams ok; first chunk p50 {out['ttfc_p50_ms']:.0f} "
        f"p99 {out['ttfc_p99_ms']:.0f} ms; "
        f"heartbeats min {out['heartbeats_min']} median {out['heartbeats_median']:g}; largest gap p99 "
        f"{out['max_gap_p99_s']:.2f} max {out['max_gap_max_s']:.2f} s; p99 total - {latency:g} s "
        f"{out['p99_minus_latency_ms']:.0f} ms; images {verified['ok']}/{verified['checked']}; "
        f"peak RSS {out['peak_rss_mib']:.0f} MiB, {out['peak_threads']} threads",
        flush=True,
    )
    for failure in s["failures"][:5]:
        print(f"  (d) failure x{failure['count']}: {failure['status']} {failure['error'][:200]}", flush=True)
