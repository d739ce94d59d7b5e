"""What (b) and (d) share: many requests held at once against a slow fake, the gateway sampled meanwhile.

The fake's latency is raised for the held load only and set back to 0 even when the load fails, so
the next scenario starts from a fast fake. The RSS sampler and the CPU meter cover exactly the
held load; the idle figures are taken just before it, after the scenario's own warm-up.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from fake_vendor_process import FakeVendorProcess
from load_results import LoadResult
from meters import CpuMeter, RssSampler, tree_rss_kb, tree_threads


@dataclass
class Held:
    result: LoadResult
    sampler: RssSampler
    cpu: CpuMeter
    after_kb: int  # the gateway's RSS once the load is over


async def hold(
    gateway,
    fake: FakeVendorProcess,
    *,
    latency: float,
    optimizer_latency: float = 0.0,
    sample_seconds: float,
    load: Callable[[], Awaitable[LoadResult]],
) -> Held:
    """Run ``load()`` with the fake answering after ``latency`` s, sampling RSS for up to ``sample_seconds``."""
    fake.set_latency(latency, optimizer_latency)
    try:
        with (
            RssSampler(gateway.process.pid, interval=0.1, max_seconds=sample_seconds) as sampler,
            CpuMeter(gateway.process.pid, fake.process.pid) as cpu,
        ):
            result = await load()
            after_kb, _ = tree_rss_kb(gateway.process.pid)
    finally:
        fake.set_latency(0, 0)
    return Held(result, sampler, cpu, after_kb)


def idle_figures(gateway_pid: int, *, threads: bool = False) -> dict:
    """The gateway's RSS (and thread count, with ``threads``) before the held load."""
    kb, processes = tree_rss_kb(gateway_pid)
    out = {"baseline_rss_mib": kb / 1024, "baseline_processes": processes}
    if threads:
        out["baseline_threads"] = tree_threads(gateway_pid)
    return out


def held_figures(held: Held) -> dict:
    """Peak RSS and threads during the held load, RSS after it, and the CPU it took."""
    return {
        "peak_rss_mib": held.sampler.peak_kb / 1024,
        "peak_rss_processes": held.sampler.peak_processes,
        "peak_threads": held.sampler.peak_threads,
        "after_rss_mib": held.after_kb / 1024,
        "rss_samples": held.sampler.samples,
        "cpu": held.cpu.used,
    }
