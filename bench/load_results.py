"""What a load run measured: one ``Sample`` per request and the ``LoadResult`` that sums them up.

Median and p99 are linearly interpolated percentiles of the successful requests only; a failed
request counts in the success rate and in the grouped ``failures``, never in the latencies.
"""

from __future__ import annotations

import math
from collections import Counter
from dataclasses import dataclass, field


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
