"""(b) Holding power: N (500) chat completions started at once against a 5 s fake.

Success rate, p99 − latency, and the gateway's peak RSS and threads while it holds them all.
"""

from __future__ import annotations

from bench_requests import chat_check, chat_request
from fake_vendor_process import FakeVendorProcess
from holding import Held, held_figures, hold, idle_figures
from load import client_session, run_load
from load_results import LoadResult, percentile


async def scenario_b(gateway, client_key: str, fake: FakeVendorProcess, args) -> dict:
    chat = chat_request(gateway.url, client_key)
    fake.set_latency(0)
    async with client_session() as session:  # a few warm requests if (a) did not run before
        await run_load(session, chat, n=min(args.warmup, 20), concurrency=4, check=chat_check, max_seconds=60)
    idle = idle_figures(gateway.process.pid)

    async def all_at_once() -> LoadResult:
        # A fresh session: every one of the N requests opens its own connection, like N clients.
        async with client_session(timeout=args.latency + 120) as session:
            return await run_load(
                session, chat, n=args.holding, concurrency=args.holding, check=chat_check, max_seconds=60
            )

    held = await hold(
        gateway,
        fake,
        latency=args.latency,
        optimizer_latency=args.optimizer_latency,
        sample_seconds=300,
        load=all_at_once,
    )
    out = holding_figures(held, args.latency + args.optimizer_latency, idle)
    s = out["result"]
    print(
        f"  (b) {s['ok']}/{s['n']} ok, p50 {s['p50_ms']:.0f} p99 {s['p99_ms']:.0f} ms, "
        f"peak RSS {out['peak_rss_mib']:.0f} MiB ({held.sampler.samples} samples), statuses {s['statuses']}",
        flush=True,
    )
    return out


def holding_figures(held: Held, latency: float, idle: dict) -> dict:
    """Latencies against the fake's ``latency``, memory before and during, CPU per completion."""
    s = held.result.summary()
    all_latencies = [x.latency for x in held.result.samples]
    out = {
        "latency_s": latency,
        "result": s,
        "p99_all_ms": percentile(all_latencies, 99) * 1000,
        "p99_minus_latency_ms": s["p99_ms"] - latency * 1000,
        "p50_minus_latency_ms": s["p50_ms"] - latency * 1000,
        "max_minus_latency_ms": s["max_ms"] - latency * 1000,
        **idle,
        **held_figures(held),
    }
    out["gateway_cpu_ms_per_request"] = held.cpu.used["gateway_cpu_s"] * 1000 / max(s["ok"], 1)
    return out
