"""(a) Gateway overhead: chat completions through the gateway against a 0 s fake, at c=1 and c=16.

The fake is measured directly first, with the same client session and concurrency, doing what the
gateway asks of the vendor per completion (the generation, then the image download); the overhead
is the gateway's percentile minus the fake's. The JSON also keeps the overhead against the
generation ``POST`` alone.
"""

from __future__ import annotations

from bench_requests import chat_check, chat_request, fake_generate_request, fake_vendor_round_trip
from fake_vendor_process import FakeVendorProcess
from load import client_session, run_load, run_sequence_load
from load_results import LoadResult
from meters import CpuMeter


async def scenario_a(gateway, client_key: str, fake: FakeVendorProcess, args) -> dict:
    fake.set_latency(0)
    chat = chat_request(gateway.url, client_key)
    out: dict = {}
    async with client_session() as session:
        warm = await run_load(session, chat, n=args.warmup, concurrency=16, check=chat_check, max_seconds=120)
        out["warmup"] = warm.summary()
        await run_sequence_load(session, fake_vendor_round_trip(fake.url), n=args.warmup, concurrency=16)
        for concurrency, n in ((1, args.n_c1), (16, args.n_c16)):
            out[f"c{concurrency}"] = await _overhead_at(session, gateway, chat, fake, concurrency, n)
    return out


async def _overhead_at(session, gateway, chat, fake: FakeVendorProcess, concurrency: int, n: int) -> dict:
    # The fake first, then the gateway, with the same session and concurrency.
    post_only = await run_load(session, fake_generate_request(fake.url), n=n, concurrency=concurrency)
    direct = await run_sequence_load(session, fake_vendor_round_trip(fake.url), n=n, concurrency=concurrency)
    with CpuMeter(gateway.process.pid, fake.process.pid) as cpu:
        through = await run_load(session, chat, n=n, concurrency=concurrency, check=chat_check, max_seconds=240)
    figures = overhead_figures(through, direct, post_only, cpu.used)
    g, f = figures["gateway"], figures["fake_direct"]
    print(
        f"  (a) c={concurrency}: gateway p50 {g['p50_ms']:.1f} p99 {g['p99_ms']:.1f} ms "
        f"({g['ok']}/{g['n']} ok, {g['rps']:.0f}/s); fake p50 {f['p50_ms']:.1f} p99 {f['p99_ms']:.1f} ms",
        flush=True,
    )
    return figures


def overhead_figures(through: LoadResult, direct: LoadResult, post_only: LoadResult, cpu_used: dict) -> dict:
    """The gateway's figures, the fake's, and their differences at p50 and p99."""
    g, f, p = through.summary(), direct.summary(), post_only.summary()
    g["cpu"] = cpu_used
    g["gateway_cpu_ms_per_request"] = cpu_used["gateway_cpu_s"] * 1000 / max(g["ok"], 1)
    return {
        "gateway": g,
        "fake_direct": f,
        "fake_post_only": p,
        "overhead_p50_ms": g["p50_ms"] - f["p50_ms"],
        "overhead_p99_ms": g["p99_ms"] - f["p99_ms"],
        "overhead_vs_post_only_p50_ms": g["p50_ms"] - p["p50_ms"],
        "overhead_vs_post_only_p99_ms": g["p99_ms"] - p["p99_ms"],
    }
