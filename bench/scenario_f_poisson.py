"""(f) Sustained throughput: chat completions arriving at random (Poisson) at 80% of the gateway's CPU.

The arrival rate is first estimated from (a)'s CPU per completion at c=16 (one core, the gateway's:
rate = 0.8 / CPU s per completion), then corrected once by what a first run measured, so the second
run's CPU use lands near 80% of the core. The CPU share is measured in the steady state: from the end of
the first vendor wait (5.5 s + 1 s in), when answers come back as fast as requests start, to the last
arrival. Each run sends completions for ``--f-seconds`` (20) with
exponentially distributed gaps (a fixed seed), against the same fake latencies as (b) (0.5 s optimizer,
5 s image), each request on its own task. Reported: the rate, the completions (images) per second
that succeeded, the gateway's CPU use as a share of its one core, and p50 / p99 minus the vendor's
5.5 s. The figure README's scaling section quotes.
"""

from __future__ import annotations

import asyncio
import random
import time

from bench_requests import chat_check, chat_request
from load import client_session, timed
from load_results import LoadResult
from meters import CpuMeter, tree_cpu_s

TARGET_CPU = 0.8


async def scenario_f(gateway, client_key: str, fake, args, cpu_ms_per_completion: float | None) -> dict:
    chat = chat_request(gateway.url, client_key)
    rate = TARGET_CPU / ((cpu_ms_per_completion or 5.0) / 1000)
    runs = []
    fake.set_latency(args.latency, args.optimizer_latency)
    try:
        for _ in range(2):
            run = await _poisson_run(gateway, fake, chat, rate, args.f_seconds, args.latency + args.optimizer_latency)
            runs.append(run)
            share = run["gateway_cpu_share"]
            rate *= TARGET_CPU / share if share == share and share > 0.05 else 1.0  # aim the second run at 80%
    finally:
        fake.set_latency(0, 0)
    out = {"runs": runs, "final": runs[-1]}
    final = runs[-1]
    print(
        f"  (f) {final['rate_per_s']:.1f}/s offered, {final['images_per_s']:.1f} images/s ok at "
        f"{final['gateway_cpu_share'] * 100:.0f}% of the gateway's core; p99 − {final['vendor_s']:g} s "
        f"{final['p99_minus_vendor_ms']:.0f} ms",
        flush=True,
    )
    return out


def _mark_steady(steady: dict, gateway, began: float, after: float) -> None:
    """Note the gateway's CPU once the first completions end (``after`` s in): from then on as many answers
    arrive per second as requests start, the steady state whose CPU share counts."""
    if "start" not in steady and time.perf_counter() - began >= after:
        steady["start"] = (time.perf_counter(), tree_cpu_s(gateway.process.pid))


def _steady_share(steady: dict) -> float:
    """The gateway's CPU over its one core while requests both start and end (after the first vendor wait)."""
    if "start" not in steady:
        return float("nan")
    (t0, cpu0), (t1, cpu1) = steady["start"], steady["end"]
    return (cpu1 - cpu0) / (t1 - t0)


async def _poisson_run(gateway, fake, chat, rate: float, seconds: float, vendor_s: float) -> dict:
    arrivals = random.Random(14)
    result = LoadResult(n_requested=0, concurrency=0)
    async with client_session(timeout=vendor_s + 120) as session:
        tasks = []
        steady: dict = {}
        with CpuMeter(gateway.process.pid, fake.process.pid) as cpu:
            began = time.perf_counter()
            next_at = began
            while next_at - began < seconds:  # bounded by the run's length
                await asyncio.sleep(max(0.0, next_at - time.perf_counter()))
                tasks.append(asyncio.ensure_future(timed(session, chat, chat_check)))
                next_at += arrivals.expovariate(rate)
                _mark_steady(steady, gateway, began, vendor_s + 1)
            steady["end"] = (time.perf_counter(), tree_cpu_s(gateway.process.pid))
            sending = time.perf_counter() - began
            result.samples = list(await asyncio.gather(*tasks))
    result.n_requested = len(tasks)
    result.elapsed = sending
    s = result.summary()
    return {
        "rate_per_s": rate,
        "sent": len(tasks),
        "ok": s["ok"],
        "images_per_s": s["ok"] / sending,
        "gateway_cpu_share": _steady_share(steady),
        "gateway_cpu_ms_per_completion": cpu.used["gateway_cpu_s"] * 1000 / max(s["ok"], 1),
        "vendor_s": vendor_s,
        "p50_minus_vendor_ms": s["p50_ms"] - vendor_s * 1000,
        "p99_minus_vendor_ms": s["p99_ms"] - vendor_s * 1000,
        "statuses": s["statuses"],
        "cpu": cpu.used,
    }
