"""Run the benchmarks in one go and print a Markdown table (also bench/results/latest.json).

    .venv/bin/python bench/run.py                         # everything, both transports (`make bench`)
    .venv/bin/python bench/run.py --only a --transport httpx
    .venv/bin/python bench/run.py --only b --holding 200
    .venv/bin/python bench/run.py --only d --transport aiohttp --stream-holding 500 --stream-latency 30

It starts one fake vendor (bench/fake_vendor.py) and, per transport, one gateway the way
`make run` does (gunicorn, 2 uvicorn workers, same timeouts, access log on) on a fresh SQLite
database in a temporary folder, through tests/gateway_process.py. The load client runs in this
process. All traffic stays on 127.0.0.1; every process started here is stopped in ``finally``.

Scenarios (see bench/README.md):
  a  gateway overhead: chat completion through the gateway against a 0 s fake, minus the fake's own
     latency measured directly with the same client at the same concurrency (c=1 and c=16)
  b  holding power: N (500) concurrent chat completions against a 5 s fake: success rate,
     p99 - 5 s, peak RSS of the gunicorn master + workers (VmRSS summed every ~100 ms)
  c  image serving: GET /images/<token>.png (200 KB) at c=32, beside the fake serving the same file
  d  streaming holding power: N (500) concurrent streamed chat completions against a 30 s fake, with
     STREAM_HEARTBEAT_SECONDS=10: role chunk at once, heartbeats while waiting, the largest silence per
     stream, the image link, finish chunk and [DONE]; a sample of the image URLs fetched back
"""

from __future__ import annotations

import argparse
import asyncio
import datetime as dt
import json
import math
import os
import platform
import re
import resource
import secrets
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter
from pathlib import Path

import aiohttp

BENCH = Path(__file__).resolve().parent
ROOT = BENCH.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(BENCH))

from load import client_session, percentile, run_load, run_sequence_load, run_stream_load, stream_trace  # noqa: E402

from tests.gateway_process import GatewayProcess, free_port  # noqa: E402

MODEL = "bench-model"
PROMPT = "a lighthouse 16:9"
IMAGE_LINK = re.compile(r"!\[image\]\((http://127\.0\.0\.1:\d+/images/[A-Za-z0-9_-]+\.png)\)")
# `make run`'s gunicorn flags that GatewayProcess does not pass itself.
MAKE_RUN_GUNICORN_ARGS = "--timeout 60 --graceful-timeout 30 --access-logfile -"


# --- the fake vendor ----------------------------------------------------------------------------
class FakeVendorProcess:
    def __init__(self, image_kb: float, max_seconds: float) -> None:
        self.port = free_port()
        self.image_kb = image_kb
        self.max_seconds = max_seconds
        self.process: subprocess.Popen | None = None
        self.log_path = BENCH / "results" / "fake-vendor.log"

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> FakeVendorProcess:
        argv = [sys.executable, str(BENCH / "fake_vendor.py"), "--port", str(self.port), "--latency", "0"]
        argv += ["--image-kb", str(self.image_kb), "--max-seconds", str(self.max_seconds)]
        self.log_path.parent.mkdir(exist_ok=True)
        self._log = open(self.log_path, "w")  # noqa: SIM115  (closed in stop)
        self.process = subprocess.Popen(argv, cwd=ROOT, stdout=self._log, stderr=subprocess.STDOUT)
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"the fake vendor exited:\n{self.log_path.read_text()}")
            try:
                self.health()
                return self
            except OSError:
                time.sleep(0.1)
        raise RuntimeError("the fake vendor did not answer /health in 20 s")

    def _call(self, method: str, path: str, body: dict | None = None) -> dict:
        import urllib.request

        data = json.dumps(body).encode() if body is not None else None
        request = urllib.request.Request(self.url + path, data=data, method=method)
        with urllib.request.urlopen(request, timeout=5) as response:
            return json.loads(response.read())

    def health(self) -> dict:
        return self._call("GET", "/health")

    def set_latency(self, seconds: float) -> None:
        self._call("POST", "/latency", {"latency": seconds})

    def stop(self) -> None:
        if self.process is not None:
            if self.process.poll() is None:
                self.process.terminate()
                try:
                    self.process.wait(10)
                except subprocess.TimeoutExpired:
                    self.process.kill()
                    self.process.wait(5)
            self._log.close()
            self.process = None


# --- RSS of a process tree ------------------------------------------------------------------------
def process_tree(root: int) -> list[int]:
    """``root`` and its descendants, from /proc/<pid>/task/<tid>/children."""
    pids, queue = [], [root]
    while queue and len(pids) < 1000:  # bounded
        pid = queue.pop()
        pids.append(pid)
        try:
            for task in os.listdir(f"/proc/{pid}/task"):
                with open(f"/proc/{pid}/task/{task}/children") as fh:
                    queue.extend(int(child) for child in fh.read().split())
        except OSError:
            continue
    return pids


def proc_status(pid: int, field: str) -> int:
    """An integer field of /proc/<pid>/status (VmRSS in kB, Threads), 0 when the process is gone."""
    try:
        with open(f"/proc/{pid}/status") as fh:
            for line in fh:
                if line.startswith(field + ":"):
                    return int(line.split()[1])
    except OSError:
        pass
    return 0


def tree_rss_kb(root: int) -> tuple[int, int]:
    """(sum of VmRSS in kB, number of processes) over ``root``'s tree."""
    pids = process_tree(root)
    return sum(proc_status(pid, "VmRSS") for pid in pids), len(pids)


def tree_threads(root: int) -> int:
    return sum(proc_status(pid, "Threads") for pid in process_tree(root))


def tree_cpu_s(root: int) -> float:
    """CPU seconds (user + system) used so far by ``root``'s tree, from /proc/<pid>/stat."""
    ticks = 0
    for pid in process_tree(root):
        try:
            with open(f"/proc/{pid}/stat") as fh:
                fields = fh.read().rsplit(")", 1)[1].split()
            ticks += int(fields[11]) + int(fields[12])  # utime, stime (fields 14 and 15)
        except (OSError, IndexError, ValueError):
            continue
    return ticks / os.sysconf("SC_CLK_TCK")


class CpuMeter:
    """CPU seconds used during a block by the gateway tree, the fake vendor and this (client) process."""

    def __init__(self, gateway_pid: int, fake_pid: int) -> None:
        self.pids = {"gateway": gateway_pid, "fake": fake_pid}
        self.used: dict[str, float] = {}

    def _now(self) -> dict[str, float]:
        now = {name: tree_cpu_s(pid) for name, pid in self.pids.items()}
        now["client"] = time.process_time()
        return now

    def __enter__(self) -> CpuMeter:
        self._start, self._wall = self._now(), time.monotonic()
        return self

    def __exit__(self, *exc) -> None:
        end, wall = self._now(), time.monotonic() - self._wall
        self.used = {f"{name}_cpu_s": end[name] - self._start[name] for name in end}
        self.used["wall_s"] = wall
        # Busy share of the whole machine (2 cores = 100%), all three together.
        self.used["machine_busy_pct"] = 100 * sum(end[n] - self._start[n] for n in end) / wall / (os.cpu_count() or 1)


class RssSampler:
    """Sums VmRSS over a process tree every ``interval`` s in a thread; keeps the peak."""

    def __init__(self, root: int, interval: float = 0.1, max_seconds: float = 600.0) -> None:
        self.root = root
        self.interval = interval
        self.max_seconds = max_seconds
        self.peak_kb = 0
        self.peak_processes = 0
        self.peak_threads = 0
        self.samples = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True, name="rss-sampler")

    def _run(self) -> None:
        deadline = time.monotonic() + self.max_seconds
        while not self._stop.is_set() and time.monotonic() < deadline:  # bounded in time
            total, count = tree_rss_kb(self.root)
            self.peak_threads = max(self.peak_threads, tree_threads(self.root))
            self.samples += 1
            if total > self.peak_kb:
                self.peak_kb, self.peak_processes = total, count
            self._stop.wait(self.interval)

    def __enter__(self) -> RssSampler:
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self._stop.set()
        self._thread.join(5)


# --- requests -------------------------------------------------------------------------------------
def chat_check(status: int, body: bytes) -> bool:
    if status != 200:
        return False
    try:
        content = json.loads(body)["choices"][0]["message"]["content"]
    except (ValueError, KeyError, IndexError, TypeError):
        return False
    return isinstance(content, str) and content.startswith("![image](")


def chat_request(gateway_url: str, client_key: str, *, stream: bool = False):
    url = gateway_url + "/v1/chat/completions"
    headers = {"Authorization": f"Bearer {client_key}"}
    body = {"model": MODEL, "messages": [{"role": "user", "content": PROMPT}]}
    if stream:
        body["stream"] = True
    return lambda session: session.post(url, json=body, headers=headers)


def fake_generate_request(fake_url: str):
    url = fake_url + "/v1/images/generations"
    headers = {"Authorization": "Bearer k1"}
    body = {"model": MODEL, "prompt": PROMPT, "image_size": "1024x576", "batch_size": 1}
    return lambda session: session.post(url, json=body, headers=headers)


def fake_vendor_round_trip(fake_url: str):
    """What the gateway asks of the vendor per chat completion: the generation, then the image download."""
    generate = fake_generate_request(fake_url)

    async def steps(session: aiohttp.ClientSession) -> tuple[int, bool, str]:
        async with generate(session) as response:
            payload = await response.json(content_type=None)
            if response.status != 200:
                return response.status, False, json.dumps(payload)[:300]
        async with session.get(payload["images"][0]["url"]) as response:
            body = await response.read()
            return response.status, response.status == 200 and len(body) > 0, ""

    return steps


# --- scenarios ------------------------------------------------------------------------------------
async def scenario_a(gateway, client_key: str, fake: FakeVendorProcess, args) -> dict:
    fake.set_latency(0)
    chat = chat_request(gateway.url, client_key)
    out: dict = {}
    async with client_session() as session:
        warm = await run_load(session, chat, n=args.warmup, concurrency=16, check=chat_check, max_seconds=120)
        out["warmup"] = warm.summary()
        await run_sequence_load(session, fake_vendor_round_trip(fake.url), n=args.warmup, concurrency=16)
        for concurrency, n in ((1, args.n_c1), (16, args.n_c16)):
            # The fake first, then the gateway, with the same session and concurrency.
            post_only = await run_load(session, fake_generate_request(fake.url), n=n, concurrency=concurrency)
            direct = await run_sequence_load(session, fake_vendor_round_trip(fake.url), n=n, concurrency=concurrency)
            with CpuMeter(gateway.process.pid, fake.process.pid) as cpu:
                through = await run_load(session, chat, n=n, concurrency=concurrency, check=chat_check, max_seconds=240)
            g, f = through.summary(), direct.summary()
            g["cpu"] = cpu.used
            g["gateway_cpu_ms_per_request"] = cpu.used["gateway_cpu_s"] * 1000 / max(g["ok"], 1)
            out[f"c{concurrency}"] = {
                "gateway": g,
                "fake_direct": f,
                "fake_post_only": post_only.summary(),
                "overhead_p50_ms": g["p50_ms"] - f["p50_ms"],
                "overhead_p99_ms": g["p99_ms"] - f["p99_ms"],
                "overhead_vs_post_only_p50_ms": g["p50_ms"] - post_only.summary()["p50_ms"],
                "overhead_vs_post_only_p99_ms": g["p99_ms"] - post_only.summary()["p99_ms"],
            }
            print(
                f"  (a) c={concurrency}: gateway p50 {g['p50_ms']:.1f} p99 {g['p99_ms']:.1f} ms "
                f"({g['ok']}/{g['n']} ok, {g['rps']:.0f}/s); fake p50 {f['p50_ms']:.1f} p99 {f['p99_ms']:.1f} ms",
                flush=True,
            )
    return out


async def scenario_b(gateway, client_key: str, fake: FakeVendorProcess, args) -> dict:
    chat = chat_request(gateway.url, client_key)
    fake.set_latency(0)
    async with client_session() as session:  # a few warm requests if (a) did not run before
        await run_load(session, chat, n=min(args.warmup, 20), concurrency=4, check=chat_check, max_seconds=60)
    baseline_kb, baseline_procs = tree_rss_kb(gateway.process.pid)
    fake.set_latency(args.latency)
    try:
        with (
            RssSampler(gateway.process.pid, interval=0.1, max_seconds=300) as sampler,
            CpuMeter(gateway.process.pid, fake.process.pid) as cpu,
        ):
            # A fresh session: every one of the N requests opens its own connection, like N clients.
            async with client_session(timeout=args.latency + 120) as session:
                result = await run_load(
                    session, chat, n=args.holding, concurrency=args.holding, check=chat_check, max_seconds=60
                )
            after_kb, _ = tree_rss_kb(gateway.process.pid)
    finally:
        fake.set_latency(0)
    s = result.summary()
    all_latencies = [x.latency for x in result.samples]
    out = {
        "latency_s": args.latency,
        "result": s,
        "p99_all_ms": percentile(all_latencies, 99) * 1000,
        "p99_minus_latency_ms": s["p99_ms"] - args.latency * 1000,
        "p50_minus_latency_ms": s["p50_ms"] - args.latency * 1000,
        "max_minus_latency_ms": s["max_ms"] - args.latency * 1000,
        "baseline_rss_mib": baseline_kb / 1024,
        "baseline_processes": baseline_procs,
        "peak_rss_mib": sampler.peak_kb / 1024,
        "peak_rss_processes": sampler.peak_processes,
        "peak_threads": sampler.peak_threads,
        "after_rss_mib": after_kb / 1024,
        "rss_samples": sampler.samples,
        "cpu": cpu.used,
        "gateway_cpu_ms_per_request": cpu.used["gateway_cpu_s"] * 1000 / max(s["ok"], 1),
    }
    print(
        f"  (b) {s['ok']}/{s['n']} ok, p50 {s['p50_ms']:.0f} p99 {s['p99_ms']:.0f} ms, "
        f"peak RSS {out['peak_rss_mib']:.0f} MiB ({sampler.samples} samples), statuses {s['statuses']}",
        flush=True,
    )
    return out


async def scenario_c(gateway, client_key: str, fake: FakeVendorProcess, args) -> dict:
    gateway_url = gateway.url
    fake.set_latency(0)
    expected = fake.health()["image_bytes"]
    async with client_session() as session:
        async with chat_request(gateway_url, client_key)(session) as response:
            body = await response.read()
        if not chat_check(response.status, body):
            raise RuntimeError(f"(c) the generation failed: {response.status} {body[:500]!r}")
        match = IMAGE_LINK.search(json.loads(body)["choices"][0]["message"]["content"])
        if match is None:
            raise RuntimeError(f"(c) no 127.0.0.1 image link in {body[:500]!r}")
        image_url = match.group(1)
        async with session.get(image_url) as response:
            stored = await response.read()
        size = len(stored)

        def check(status: int, body: bytes) -> bool:
            return status == 200 and len(body) == size

        targets = {"gateway": image_url, "fake": fake.url + "/files/x.png"}
        out: dict = {"image_url": image_url, "gateway_image_bytes": size, "fake_image_bytes": expected}
        for url in targets.values():  # warm-up
            await run_load(session, lambda s, u=url: s.get(u), n=200, concurrency=args.image_c, check=check)
        for name, url in targets.items():
            with CpuMeter(gateway.process.pid, fake.process.pid) as cpu:
                result = await run_load(
                    session, lambda s, u=url: s.get(u), n=args.image_n, concurrency=args.image_c, check=check
                )
            out[name] = result.summary()
            out[name]["cpu"] = cpu.used
            out[name]["mb_per_s"] = result.rps * size / 1e6
            print(f"  (c) {name}: {result.rps:.0f} req/s, p99 {out[name]['p99_ms']:.1f} ms", flush=True)
        out["gateway_over_fake_rps"] = out["gateway"]["rps"] / out["fake"]["rps"]
    return out


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


async def scenario_d(gateway, client_key: str, fake: FakeVendorProcess, args) -> dict:
    stream = chat_request(gateway.url, client_key, stream=True)
    fake.set_latency(0)
    expected = fake.health()["image_bytes"]
    async with client_session() as session:  # warm streams, and a check that streaming works at all
        warm = await run_stream_load(session, stream, n=min(args.warmup, 20), concurrency=4, min_heartbeats=0)
    if warm.n_ok != warm.n_requested:
        raise RuntimeError(f"(d) warm-up streams failed: {warm.summary()['failures']}")
    baseline_kb, baseline_procs = tree_rss_kb(gateway.process.pid)
    baseline_threads = tree_threads(gateway.process.pid)
    latency, heartbeat, n = args.stream_latency, args.stream_heartbeat, args.stream_holding
    fake.set_latency(latency)
    try:
        with (
            RssSampler(gateway.process.pid, interval=0.1, max_seconds=latency + 300) as sampler,
            CpuMeter(gateway.process.pid, fake.process.pid) as cpu,
        ):
            # A fresh session with no connection limit: every stream has its own connection, like N clients.
            async with client_session(timeout=latency + 120, trace_configs=[stream_trace()]) as session:
                result = await run_stream_load(session, stream, n=n, concurrency=n, min_heartbeats=1, max_seconds=60)
            after_kb, _ = tree_rss_kb(gateway.process.pid)
    finally:
        fake.set_latency(0)
    samples = result.samples
    ok = [x for x in samples if x.ok]
    urls = [x.image_urls[0] for x in ok if x.image_urls]
    async with client_session() as session:
        verified = await verify_images(session, spread(urls, args.stream_verify), gateway.url, expected)
    s = result.summary()
    role_at = [x.role_at for x in samples if not math.isnan(x.role_at)]
    gaps = [x.max_gap for x in samples if not math.isnan(x.max_gap)]
    beats = [x.heartbeats for x in samples]
    limit = heartbeat + args.stream_gap_slack
    sent_at = [x.sent_at for x in samples if not math.isnan(x.sent_at)]
    role_after_sent = [x.role_at - x.sent_at for x in samples if not math.isnan(x.role_at - x.sent_at)]
    first_step = [x.steps_at[0] for x in samples if x.steps_at]
    end_cost = [x.content_at - x.steps_at[0] - latency for x in ok if x.steps_at]
    # First heartbeat − role chunk: one heartbeat interval after the first progress step, plus the wait for that step.
    first_beat_gap = [x.heartbeat_at[0] - x.role_at for x in samples if x.heartbeat_at and not math.isnan(x.role_at)]
    out = {
        "latency_s": latency,
        "heartbeat_s": heartbeat,
        "gap_limit_s": limit,
        "result": s,
        "role_chunk": sum(not math.isnan(x.role_at) for x in samples),
        "with_heartbeat": sum(x.heartbeats >= 1 for x in samples),
        "image_content": sum(x.content_ok and bool(x.image_urls) for x in samples),
        "finish_chunk": sum(x.finish for x in samples),
        "done": sum(x.done for x in samples),
        "error_events": sum(bool(x.error_event) for x in samples),
        "exceptions": sum(bool(x.exception) for x in samples),
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
        "heartbeats_min": min(beats) if beats else 0,
        "heartbeats_median": percentile(beats, 50),
        "heartbeats_max": max(beats) if beats else 0,
        "heartbeats_histogram": {str(k): v for k, v in sorted(Counter(beats).items())},
        "reasoning_steps_histogram": {str(k): v for k, v in sorted(Counter(x.reasoning_steps for x in ok).items())},
        "first_heartbeat_after_role_p50_s": percentile(first_beat_gap, 50),
        "first_heartbeat_after_role_max_s": max(first_beat_gap) if first_beat_gap else math.nan,
        "max_gap_p50_s": percentile(gaps, 50),
        "max_gap_p99_s": percentile(gaps, 99),
        "max_gap_max_s": max(gaps) if gaps else math.nan,
        "streams_over_gap_limit": sum(gap > limit for gap in gaps),
        "content_after_p50_s": percentile([x.content_at for x in ok], 50),
        "content_after_p99_s": percentile([x.content_at for x in ok], 99),
        "p50_minus_latency_ms": s["p50_ms"] - latency * 1000,
        "p99_minus_latency_ms": s["p99_ms"] - latency * 1000,
        "max_minus_latency_ms": s["max_ms"] - latency * 1000,
        "images_verified": verified,
        "baseline_rss_mib": baseline_kb / 1024,
        "baseline_processes": baseline_procs,
        "baseline_threads": baseline_threads,
        "peak_rss_mib": sampler.peak_kb / 1024,
        "peak_rss_processes": sampler.peak_processes,
        "peak_threads": sampler.peak_threads,
        "after_rss_mib": after_kb / 1024,
        "rss_samples": sampler.samples,
        "cpu": cpu.used,
        "gateway_cpu_ms_per_stream": cpu.used["gateway_cpu_s"] * 1000 / max(len(samples), 1),
        "gateway_cpu_pct_of_one_core": 100 * cpu.used["gateway_cpu_s"] / cpu.used["wall_s"],
    }
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
    return out


# --- the gateway per transport -------------------------------------------------------------------
def gateway_log_findings(log: str) -> dict:
    lines = log.splitlines()
    interesting = [
        line
        for line in lines
        if any(word in line for word in ("ERROR", "CRITICAL", "Traceback", "WORKER TIMEOUT", "Worker exiting"))
    ]
    return {
        "lines": len(lines),
        "booted_workers": sum("Booting worker" in line for line in lines),
        "error_lines": len(interesting),
        "first_errors": interesting[:15],
        "http_5xx_access_lines": sum(bool(re.search(r'" 5\d\d ', line)) for line in lines),
    }


async def bench_transport(transport: str, fake: FakeVendorProcess, args, scenarios: set[str], first: bool) -> dict:
    client_key = "bench-" + secrets.token_hex(12)
    env = {
        "FLUX_GEN_API_BASE": fake.url + "/v1",
        "FLUX_GEN_MODEL": MODEL,
        "FLUX_GEN_API_KEY": "k1,k2",
        "AUTHORIZED_API_KEY": client_key,
        "HTTP_TRANSPORT": transport,
        "LOG_LEVEL": "WARNING",
        "STREAM_HEARTBEAT_SECONDS": f"{args.stream_heartbeat:g}",
        "WEB_CONCURRENCY": str(args.workers),
    }
    if args.access_log:
        env["GUNICORN_CMD_ARGS"] = MAKE_RUN_GUNICORN_ARGS
    else:
        env["GUNICORN_CMD_ARGS"] = MAKE_RUN_GUNICORN_ARGS.replace(" --access-logfile -", "")
    data_dir = Path(tempfile.mkdtemp(prefix=f"imagegen-bench-{transport}-"))
    gateway = GatewayProcess(data_dir, env, workers=args.workers, server="gunicorn")
    out: dict = {"transport": transport}
    try:
        started = time.monotonic()
        gateway.start()
        out["start_s"] = time.monotonic() - started
        out["database"] = "postgresql" if gateway._database else "sqlite"
        print(f"[{transport}] gateway on {gateway.url} (pid {gateway.process.pid})", flush=True)
        if "a" in scenarios:
            out["a"] = await scenario_a(gateway, client_key, fake, args)
        if "b" in scenarios:  # before (c), so every transport's gateway has seen the same traffic here
            out["b"] = await scenario_b(gateway, client_key, fake, args)
        if "c" in scenarios and first:  # the transport only concerns upstream calls, not serving
            out["c"] = await scenario_c(gateway, client_key, fake, args)
        if "d" in scenarios and first:  # one transport is enough: a stream waits like (b) does, plus heartbeats
            out["d"] = await scenario_d(gateway, client_key, fake, args)
    except Exception as exc:
        out["error"] = f"{type(exc).__name__}: {exc}"
        print(f"[{transport}] FAILED: {out['error']}", flush=True)
    finally:
        gateway.stop()
        log = gateway.log()
        out["gateway_log"] = gateway_log_findings(log)
        results = BENCH / "results"
        results.mkdir(exist_ok=True)
        (results / f"gateway-{transport}.log").write_text(log)
        shutil.rmtree(data_dir, ignore_errors=True)
    return out


# --- report ---------------------------------------------------------------------------------------
def f1(value: float) -> str:
    return "n/a" if value is None or (isinstance(value, float) and math.isnan(value)) else f"{value:.1f}"


def f0(value: float) -> str:
    return "n/a" if value is None or (isinstance(value, float) and math.isnan(value)) else f"{value:.0f}"


def ratio(x: float, y: float) -> str:
    if x is None or y is None or not y or math.isnan(x) or math.isnan(y):
        return "n/a"
    return f"{x / y:.2f}×"


def markdown(report: dict) -> str:
    runs = report["transports"]
    out = [
        f"Run {report['date']} on {report['machine']['cpus']} cores ({report['machine']['cpu_model']}), "
        f"total {report['total_s']:.0f} s. All latencies in ms.",
        "",
    ]
    if any("a" in r for r in runs):
        out += [
            "### (a) Gateway overhead (0 s fake; overhead = gateway − fake direct, same client and concurrency)",
            "",
            "| transport | c | n | gateway p50 | gateway p99 | fake p50 | fake p99 | **overhead p50** "
            "| **overhead p99** | gateway req/s | gateway CPU ms/req | machine busy | ok |",
            "|---|---|---|---|---|---|---|---|---|---|---|---|---|",
        ]
        for r in runs:
            for c in ("c1", "c16"):
                if "a" not in r:
                    continue
                a = r["a"][c]
                g, f = a["gateway"], a["fake_direct"]
                out.append(
                    f"| {r['transport']} | {g['concurrency']} | {g['n']} | {f1(g['p50_ms'])} | {f1(g['p99_ms'])} "
                    f"| {f1(f['p50_ms'])} | {f1(f['p99_ms'])} | **{f1(a['overhead_p50_ms'])}** "
                    f"| **{f1(a['overhead_p99_ms'])}** | {f0(g['rps'])} | {f1(g['gateway_cpu_ms_per_request'])} "
                    f"| {f0(g['cpu']['machine_busy_pct'])}% | {g['ok']}/{g['n']} |"
                )
        out.append("")
    if any("b" in r for r in runs):
        lat = next(r["b"]["latency_s"] for r in runs if "b" in r)
        out += [
            f"### (b) Holding power ({report['config']['holding']} concurrent chat completions, {lat:g} s fake)",
            "",
            f"| transport | success | p50 | p99 | **p99 − {lat:g} s** | max | **peak RSS (MiB)** | idle RSS (MiB) "
            "| peak threads | wall s | gateway CPU ms/req | statuses |",
            "|---|---|---|---|---|---|---|---|---|---|---|---|",
        ]
        for r in runs:
            if "b" not in r:
                continue
            b, s = r["b"], r["b"]["result"]
            out.append(
                f"| {r['transport']} | {s['ok']}/{s['n']} ({s['success_rate'] * 100:.1f}%) | {f0(s['p50_ms'])} "
                f"| {f0(s['p99_ms'])} | **{f0(b['p99_minus_latency_ms'])}** | {f0(s['max_ms'])} "
                f"| **{f0(b['peak_rss_mib'])}** ({b['peak_rss_processes']} processes) | {f0(b['baseline_rss_mib'])} "
                f"| {b.get('peak_threads', '?')} | {s['elapsed_s']:.1f} "
                f"| {f1(b['gateway_cpu_ms_per_request'])} | {s['statuses']} |"
            )
        out.append("")
    c_run = next((r for r in runs if "c" in r), None)
    if c_run:
        c = c_run["c"]
        out += [
            f"### (c) Image serving ({c['gateway_image_bytes'] / 1024:.0f} KB PNG, c={report['config']['image_c']}, "
            f"n={report['config']['image_n']})",
            "",
            "| server | req/s | MB/s | p50 | p99 | server CPU ms/req | machine busy | ok |",
            "|---|---|---|---|---|---|---|---|",
        ]
        for name, label in (("gateway", "gateway `GET /images/<token>.png`"), ("fake", "fake vendor (aiohttp)")):
            s = c[name]
            server_cpu_ms = s["cpu"][f"{name}_cpu_s"] * 1000 / max(s["ok"], 1)
            out.append(
                f"| {label} | {f0(s['rps'])} | {f0(s['mb_per_s'])} | {f1(s['p50_ms'])} | {f1(s['p99_ms'])} "
                f"| {f1(server_cpu_ms)} | {f0(s['cpu']['machine_busy_pct'])}% | {s['ok']}/{s['n']} |"
            )
        out += ["", f"Gateway / fake requests per second: {c['gateway_over_fake_rps']:.2f}.", ""]
    for r in runs:
        if "d" not in r:
            continue
        d, s = r["d"], r["d"]["result"]
        v = d["images_verified"]
        lat, hb = d["latency_s"], d["heartbeat_s"]
        out += [
            f"### (d) Streaming holding power ({s['n']} concurrent streamed chat completions, {lat:g} s fake, "
            f"heartbeat {hb:g} s, {r['transport']})",
            "",
            "| success | first chunk p50 | first chunk p99 | heartbeats min / median | **largest gap p99 (s)** "
            f"| largest gap max (s) | gaps > {d['gap_limit_s']:g} s | **p99 total − {lat:g} s** | images served "
            "| **peak RSS (MiB)** | idle RSS (MiB) | peak threads | gateway CPU | statuses |",
            "|---|---|---|---|---|---|---|---|---|---|---|---|---|---|",
            f"| {s['ok']}/{s['n']} ({s['success_rate'] * 100:.1f}%) | {f0(d['ttfc_p50_ms'])} | {f0(d['ttfc_p99_ms'])} "
            f"| {d['heartbeats_min']} / {d['heartbeats_median']:g} | **{d['max_gap_p99_s']:.2f}** "
            f"| {d['max_gap_max_s']:.2f} | {d['streams_over_gap_limit']} | **{f0(d['p99_minus_latency_ms'])}** "
            f"| {v['ok']}/{v['checked']} | **{f0(d['peak_rss_mib'])}** ({d['peak_rss_processes']} processes) "
            f"| {f0(d['baseline_rss_mib'])} | {d['peak_threads']} "
            f"| {d['cpu']['gateway_cpu_s']:.1f} s ({f1(d['gateway_cpu_ms_per_stream'])} ms/stream, "
            f"{f0(d['gateway_cpu_pct_of_one_core'])}% of a core) "
            f"| {s['statuses']} |",
            "",
            f"Per stream: role chunk {d['role_chunk']}, ≥1 heartbeat {d['with_heartbeat']}, image content "
            f"{d['image_content']}, finish chunk {d['finish_chunk']}, [DONE] {d['done']}, error events "
            f"{d['error_events']}, client exceptions {d['exceptions']}. Heartbeats per stream: "
            f"{d['heartbeats_histogram']}. Wall {s['elapsed_s']:.1f} s, machine busy "
            f"{f0(d['cpu']['machine_busy_pct'])}%.",
            "",
            f"Where the time went (p50 / p99 ms): request written by the client {f0(d['sent_p50_ms'])} / "
            f"{f0(d['sent_p99_ms'])}, then role chunk {f0(d['role_after_sent_p50_ms'])} / "
            f"{f0(d['role_after_sent_p99_ms'])}; first progress step (vendor called) {f0(d['first_step_p50_ms'])} / "
            f"{f0(d['first_step_p99_ms'])}; content − that step − {lat:g} s "
            f"{f0(d['content_after_step_minus_latency_p50_ms'])} / {f0(d['content_after_step_minus_latency_p99_ms'])}.",
            "",
        ]
        if s["failures"]:
            out += [f"(d) failures: {s['failures'][:5]}", ""]
    by = {r["transport"]: r for r in runs}
    if "aiohttp" in by and "httpx" in by:
        rows = []
        ah, hx = by["aiohttp"], by["httpx"]
        if "a" in ah and "a" in hx:
            for key, label in (
                ("overhead_p50_ms", "(a) c=16 overhead p50 ms"),
                ("overhead_p99_ms", "(a) c=16 overhead p99 ms"),
            ):
                rows.append((label, ah["a"]["c16"][key], hx["a"]["c16"][key]))
            rows.append(("(a) c=16 gateway req/s", ah["a"]["c16"]["gateway"]["rps"], hx["a"]["c16"]["gateway"]["rps"]))
            for key, label in (
                ("overhead_p50_ms", "(a) c=1 overhead p50 ms"),
                ("overhead_p99_ms", "(a) c=1 overhead p99 ms"),
            ):
                rows.append((label, ah["a"]["c1"][key], hx["a"]["c1"][key]))
        if "b" in ah and "b" in hx:
            rows.append(
                ("(b) success %", ah["b"]["result"]["success_rate"] * 100, hx["b"]["result"]["success_rate"] * 100)
            )
            rows.append(("(b) p99 − latency ms", ah["b"]["p99_minus_latency_ms"], hx["b"]["p99_minus_latency_ms"]))
            rows.append(("(b) peak RSS MiB", ah["b"]["peak_rss_mib"], hx["b"]["peak_rss_mib"]))
            rows.append(
                ("(b) gateway CPU ms/req", ah["b"]["gateway_cpu_ms_per_request"], hx["b"]["gateway_cpu_ms_per_request"])
            )
        if rows:
            out += [
                "### HTTP_TRANSPORT: aiohttp vs httpx (same run)",
                "",
                "| metric | aiohttp | httpx | httpx − aiohttp | httpx / aiohttp |",
                "|---|---|---|---|---|",
            ]
            for label, x, y in rows:
                out.append(f"| {label} | {f1(x)} | {f1(y)} | {f1(y - x)} | {ratio(y, x)} |")
            out.append("")
    for r in runs:
        if r.get("error"):
            out.append(f"**{r['transport']}: {r['error']}**")
        log = r.get("gateway_log", {})
        if log.get("error_lines"):
            out.append(
                f"{r['transport']} gateway log: {log['error_lines']} error lines, first: {log['first_errors'][:3]}"
            )
    return "\n".join(out)


def machine() -> dict:
    cpu_model = ""
    try:
        with open("/proc/cpuinfo") as fh:
            cpu_model = next((line.split(":", 1)[1].strip() for line in fh if line.startswith("model name")), "")
    except OSError:
        pass
    mem_kb = 0
    try:
        with open("/proc/meminfo") as fh:
            mem_kb = int(next(line for line in fh if line.startswith("MemTotal")).split()[1])
    except (OSError, StopIteration):
        pass
    return {
        "cpus": os.cpu_count(),
        "cpu_model": cpu_model,
        "mem_gib": round(mem_kb / 1024 / 1024, 1),
        "kernel": platform.release(),
        "python": platform.python_version(),
    }


def git_revision() -> str:
    try:
        head = subprocess.run(
            ["git", "rev-parse", "--short", "HEAD"], cwd=ROOT, capture_output=True, text=True, timeout=10
        )
        dirty = subprocess.run(["git", "status", "--porcelain"], cwd=ROOT, capture_output=True, text=True, timeout=10)
        return head.stdout.strip() + ("+dirty" if dirty.stdout.strip() else "")
    except (OSError, subprocess.SubprocessError):
        return "unknown"


def versions() -> dict:
    import httpx
    import uvicorn  # noqa: F401  (imported for its version)

    out = {"aiohttp": aiohttp.__version__, "httpx": httpx.__version__}
    for name in ("uvicorn", "gunicorn", "django", "httpx_aiohttp"):
        try:
            from importlib.metadata import version

            out[name] = version(name.replace("_", "-"))
        except Exception:  # noqa: BLE001
            out[name] = "?"
    return out


def _terminate(signum, frame):  # SIGTERM -> unwind through every ``finally``
    raise KeyboardInterrupt(f"signal {signum}")


async def main_async(args) -> dict:
    scenarios = set(args.only.split(","))
    transports = [t.strip() for t in args.transport.split(",") if t.strip()]
    started = time.monotonic()
    report = {
        "date": dt.datetime.now(dt.UTC).strftime("%Y-%m-%d %H:%M UTC"),
        "command": " ".join([Path(sys.executable).name, *sys.argv]),
        "git": git_revision(),
        "machine": machine(),
        "versions": versions(),
        "loadavg_start": os.getloadavg(),
        "config": {
            "workers": args.workers,
            "n_c1": args.n_c1,
            "n_c16": args.n_c16,
            "warmup": args.warmup,
            "holding": args.holding,
            "latency_s": args.latency,
            "image_n": args.image_n,
            "image_c": args.image_c,
            "image_kb": args.image_kb,
            "stream_holding": args.stream_holding,
            "stream_latency_s": args.stream_latency,
            "stream_heartbeat_s": args.stream_heartbeat,
            "stream_gap_slack_s": args.stream_gap_slack,
            "stream_verify": args.stream_verify,
            "access_log": args.access_log,
            "gunicorn": f"imagegen.asgi:application -k uvicorn.workers.UvicornWorker -w {args.workers} "
            + (
                MAKE_RUN_GUNICORN_ARGS if args.access_log else MAKE_RUN_GUNICORN_ARGS.replace(" --access-logfile -", "")
            ),
        },
        "transports": [],
    }
    fake = FakeVendorProcess(args.image_kb, max_seconds=args.max_minutes * 60 + 60)
    try:
        fake.start()
        report["fake_image_bytes"] = fake.health()["image_bytes"]
        print(f"fake vendor on {fake.url}, image {report['fake_image_bytes']} bytes", flush=True)
        for i, transport in enumerate(transports):
            if time.monotonic() - started > args.max_minutes * 60:
                print(f"--max-minutes {args.max_minutes} reached: skipping {transport}", flush=True)
                break
            if i and not scenarios & {"a", "b"}:  # (c) and (d) run on the first transport only
                print(f"[{transport}] skipped: (c) and (d) run with the first transport only", flush=True)
                continue
            report["transports"].append(await bench_transport(transport, fake, args, scenarios, first=i == 0))
        report["fake_health_end"] = fake.health()
    finally:
        fake.stop()
    report["loadavg_end"] = os.getloadavg()
    report["total_s"] = time.monotonic() - started
    return report


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="imagegen benchmarks (127.0.0.1 only)")
    parser.add_argument("--only", default="a,b,c,d", help="scenarios to run, e.g. a,b")
    parser.add_argument(
        "--transport", default="aiohttp,httpx", help="HTTP_TRANSPORT values, the first one also runs (c) and (d)"
    )
    parser.add_argument("--holding", type=int, default=500, help="(b) concurrent chat completions")
    parser.add_argument("--latency", type=float, default=5.0, help="(b) fake vendor latency, seconds")
    parser.add_argument("--stream-holding", type=int, default=500, help="(d) concurrent streamed chat completions")
    parser.add_argument("--stream-latency", type=float, default=30.0, help="(d) fake vendor latency, seconds")
    parser.add_argument("--stream-heartbeat", type=float, default=10.0, help="(d) gateway STREAM_HEARTBEAT_SECONDS, s")
    parser.add_argument(
        "--stream-gap-slack", type=float, default=2.0, help="(d) a silence may last heartbeat + this long, seconds"
    )
    parser.add_argument("--stream-verify", type=int, default=20, help="(d) image URLs fetched back after the streams")
    parser.add_argument("--n-c1", type=int, default=300, help="(a) requests at concurrency 1")
    parser.add_argument("--n-c16", type=int, default=1000, help="(a) requests at concurrency 16")
    parser.add_argument("--warmup", type=int, default=50)
    parser.add_argument("--image-n", type=int, default=3000, help="(c) requests per server")
    parser.add_argument("--image-c", type=int, default=32, help="(c) concurrency")
    parser.add_argument("--image-kb", type=float, default=200.0)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--no-access-log", dest="access_log", action="store_false", help="gunicorn without access log")
    parser.add_argument("--max-minutes", type=float, default=20.0, help="start no new transport after this long")
    parser.add_argument("--out", type=Path, default=BENCH / "results" / "latest.json")
    parser.add_argument("--table-from", type=Path, metavar="JSON", help="only print the table of a saved run")
    args = parser.parse_args(argv)
    if args.table_from:
        print(markdown(json.loads(args.table_from.read_text())))
        return 0
    if not set(args.only.split(",")) <= {"a", "b", "c", "d"}:
        parser.error("--only takes a comma-separated subset of a,b,c,d")
    if not set(args.transport.split(",")) <= {"aiohttp", "httpx"}:
        parser.error("--transport takes aiohttp and/or httpx")

    # 500 client sockets + 500 gateway sockets + 500 upstream sockets: lift the soft fd limit.
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    wanted = hard if hard != resource.RLIM_INFINITY else 65536
    if soft != resource.RLIM_INFINITY and soft < wanted:
        resource.setrlimit(resource.RLIMIT_NOFILE, (wanted, hard))
    signal.signal(signal.SIGTERM, _terminate)

    report = asyncio.run(main_async(args))
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(report, indent=2, default=str))
    table = markdown(report)
    (args.out.with_suffix(".md")).write_text(table + "\n")
    print()
    print(table)
    print(f"\nJSON: {args.out}")
    return 1 if any(r.get("error") for r in report["transports"]) else 0


if __name__ == "__main__":
    sys.exit(main())
