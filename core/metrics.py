"""The gateway's Prometheus metrics, kept by every worker process and added up at scrape.

prometheus-client's multiprocess mode: each process writes its values to memory-mapped files in
``PROMETHEUS_MULTIPROC_DIR`` (``settings.METRICS_DIR``, which ``imagegen.observability_settings`` puts
in the environment before this module is imported), and ``GET /metrics`` reads all of them, so
whichever worker answers the scrape reports the gateway, not itself. The folder is emptied when
gunicorn starts and a dead worker's in-flight gauge dropped (``imagegen.gunicorn_config``). Counters
of workers that have exited stay in the sums until the next start, as counters should.

Recording a value costs a dictionary look-up and a write to the process's own mapped file under a
lock: a few microseconds, no system call, no I/O wait (the README gives the measured figure).
Label values are bounded: endpoints are a fixed list, models and vendors those the operator made.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from time import perf_counter

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest
from prometheus_client.multiprocess import MultiProcessCollector
from prometheus_client.registry import Collector

CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"
# From a cached answer (milliseconds) to a slow model and its download (minutes).
SECONDS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 20, 30, 60, 120, 300)
STAGES = ("auth", "optimize", "generate", "fetch", "store")

REQUESTS = Counter(
    "imagegen_requests",
    "HTTP requests answered, by endpoint, model asked for and status.",
    ["endpoint", "model", "status"],
)
REQUEST_SECONDS = Histogram(
    "imagegen_request_duration_seconds",
    "Time to answer a request (a stream: to its end).",
    ["endpoint"],
    buckets=SECONDS,
)
IN_FLIGHT = Gauge(
    "imagegen_requests_in_flight", "Requests being served now.", ["endpoint"], multiprocess_mode="livesum"
)
STAGE_SECONDS = Histogram(
    "imagegen_stage_duration_seconds",
    "Time spent in each stage of a request: auth, optimize, generate, fetch, store.",
    ["stage"],
    buckets=SECONDS,
)
VENDOR_CALLS = Counter(
    "imagegen_vendor_calls",
    "Calls to vendors (each key tried is a call), by vendor, kind and outcome (ok or the error's code).",
    ["vendor", "kind", "outcome"],
)
CACHE_LOOKUPS = Counter(
    "imagegen_cache_lookups", "Look-ups in the optimizer and image caches, hit or miss.", ["cache", "result"]
)
IMAGES = Counter(
    "imagegen_images", "Images delivered, by model and vendor (a cache hit is vendor 'cache').", ["model", "vendor"]
)
STORED_BYTES = Counter("imagegen_stored_bytes", "Bytes of image files stored, by vendor.", ["vendor"])
COST = Counter(
    "imagegen_cost",
    "What generations cost (priced parts only), by model, part (image or optimizer) and currency.",
    ["model", "part", "currency"],
)


@contextmanager
def stage(name: str) -> Iterator[None]:
    """Time the block as one of ``STAGES`` (whether it succeeds or raises)."""
    started = perf_counter()
    try:
        yield
    finally:
        STAGE_SECONDS.labels(name).observe(perf_counter() - started)


def cache_lookup(cache: str, hit: bool) -> None:
    CACHE_LOOKUPS.labels(cache, "hit" if hit else "miss").inc()


def exposition(*collectors: Collector) -> bytes:
    """Every process's values added up, and ``collectors``' values computed now, in Prometheus' text format.
    Reads files: call it off the event loop."""
    registry = CollectorRegistry()
    MultiProcessCollector(registry)
    for collector in collectors:
        registry.register(collector)
    return generate_latest(registry)
