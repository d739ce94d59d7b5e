"""The figures (d) draws from its ``StreamSample``s, in the order they appear in ``latest.json``.

Times in the samples are seconds since each request was sent; the ``*_ms`` figures are milliseconds.
Percentiles skip the streams that never got the thing timed (NaN).
"""

from __future__ import annotations

import math
from collections import Counter

from load_results import percentile
from stream_load import StreamSample


def stream_counts(samples: list[StreamSample]) -> dict:
    """How many streams got each part a success needs, and how many had an error or exception."""
    return {
        "role_chunk": sum(not math.isnan(x.role_at) for x in samples),
        "with_heartbeat": sum(x.heartbeats >= 1 for x in samples),
        "image_content": sum(x.content_ok and bool(x.image_urls) for x in samples),
        "finish_chunk": sum(x.finish for x in samples),
        "done": sum(x.done for x in samples),
        "error_events": sum(bool(x.error_event) for x in samples),
        "exceptions": sum(bool(x.exception) for x in samples),
    }


def stream_timings(samples: list[StreamSample], ok: list[StreamSample], latency: float) -> dict:
    """Time to the first chunk, and where it went: client send, gateway, vendor call, the end's work."""
    role_at = [x.role_at for x in samples if not math.isnan(x.role_at)]
    sent_at = [x.sent_at for x in samples if not math.isnan(x.sent_at)]
    role_after_sent = [x.role_at - x.sent_at for x in samples if not math.isnan(x.role_at - x.sent_at)]
    first_step = [x.steps_at[0] for x in samples if x.steps_at]
    end_cost = [x.content_at - x.steps_at[0] - latency for x in ok if x.steps_at]
    return {
        "ttfc_p50_ms": percentile(role_at, 50) * 1000,
        "ttfc_p99_ms": percentile(role_at, 99) * 1000,
        "ttfc_max_ms": max(role_at) * 1000 if role_at else math.nan,
        "headers_p99_ms": percentile([x.headers_at for x in samples if not math.isnan(x.headers_at)], 99) * 1000,
        # The first chunk's time split: until the client had written the request, then the gateway's share.
        "sent_p50_ms": percentile(sent_at, 50) * 1000,
        "sent_p99_ms": percentile(sent_at, 99) * 1000,
        "role_after_sent_p50_ms": percentile(role_after_sent, 50) * 1000,
        "role_after_sent_p99_ms": percentile(role_after_sent, 99) * 1000,
        # The first progress step ("Generating with ...") is said just before the vendor is called.
        "first_step_p50_ms": percentile(first_step, 50) * 1000,
        "first_step_p99_ms": percentile(first_step, 99) * 1000,
        # From that step to the image content, minus the vendor's latency: download, check, store, answer.
        "content_after_step_minus_latency_p50_ms": percentile(end_cost, 50) * 1000,
        "content_after_step_minus_latency_p99_ms": percentile(end_cost, 99) * 1000,
    }


def heartbeat_figures(samples: list[StreamSample], ok: list[StreamSample]) -> dict:
    """Heartbeats per stream, progress steps per successful stream, and when the first beat came."""
    beats = [x.heartbeats for x in samples]
    # First heartbeat − role chunk: one heartbeat interval after the first progress step, plus the wait for that step.
    first_beat_gap = [x.heartbeat_at[0] - x.role_at for x in samples if x.heartbeat_at and not math.isnan(x.role_at)]
    return {
        "heartbeats_min": min(beats) if beats else 0,
        "heartbeats_median": percentile(beats, 50),
        "heartbeats_max": max(beats) if beats else 0,
        "heartbeats_histogram": {str(k): v for k, v in sorted(Counter(beats).items())},
        "reasoning_steps_histogram": {str(k): v for k, v in sorted(Counter(x.reasoning_steps for x in ok).items())},
        "first_heartbeat_after_role_p50_s": percentile(first_beat_gap, 50),
        "first_heartbeat_after_role_max_s": max(first_beat_gap) if first_beat_gap else math.nan,
    }


def gap_figures(samples: list[StreamSample], limit: float) -> dict:
    """The largest silence per stream (what a proxy's idle timeout sees) and how many exceed ``limit`` s."""
    gaps = [x.max_gap for x in samples if not math.isnan(x.max_gap)]
    return {
        "max_gap_p50_s": percentile(gaps, 50),
        "max_gap_p99_s": percentile(gaps, 99),
        "max_gap_max_s": max(gaps) if gaps else math.nan,
        "streams_over_gap_limit": sum(gap > limit for gap in gaps),
    }


def tail_figures(ok: list[StreamSample], summary: dict, latency: float) -> dict:
    """When the content came, and the total time of the streams minus the vendor's ``latency``."""
    return {
        "content_after_p50_s": percentile([x.content_at for x in ok], 50),
        "content_after_p99_s": percentile([x.content_at for x in ok], 99),
        "p50_minus_latency_ms": summary["p50_ms"] - latency * 1000,
        "p99_minus_latency_ms": summary["p99_ms"] - latency * 1000,
        "max_minus_latency_ms": summary["max_ms"] - latency * 1000,
    }
