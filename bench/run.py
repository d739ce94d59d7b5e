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
  e  two instances behind one address (bench/round_robin_proxy.py, scenario_e_instances.py): chat
     completions per second and p50/p99 with one instance behind the proxy, then two, as ratios

This file is the command line and the run's outline. The rest of bench/: fake_vendor_process.py
(the fake as a child process), transport_bench.py (one gateway per transport, its scenarios),
scenario_a_overhead.py, scenario_b_holding.py, scenario_c_images.py, scenario_d_streaming.py with
stream_figures.py, holding.py (what (b) and (d) share), meters.py (CPU, RSS and threads from /proc),
bench_requests.py (the requests sent), report_markdown.py (the table), run_metadata.py (machine,
versions, configuration), and the load client in load.py, load_results.py and stream_load.py.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import resource
import signal
import sys
import time
from pathlib import Path

BENCH = Path(__file__).resolve().parent
ROOT = BENCH.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(BENCH))

from fake_vendor_process import FakeVendorProcess  # noqa: E402
from paths import RESULTS  # noqa: E402
from report_markdown import markdown  # noqa: E402
from run_metadata import new_report  # noqa: E402
from scenario_e_instances import scenario_e  # noqa: E402
from transport_bench import bench_transport  # noqa: E402


def _terminate(signum, frame):  # SIGTERM -> unwind through every ``finally``
    raise KeyboardInterrupt(f"signal {signum}")


async def main_async(args) -> dict:
    scenarios = set(args.only.split(","))
    transports = [t.strip() for t in args.transport.split(",") if t.strip()]
    started = time.monotonic()
    report = new_report(args)
    fake = FakeVendorProcess(args.image_kb, max_seconds=args.max_minutes * 60 + 60)
    try:
        fake.start()
        report["fake_image_bytes"] = fake.health()["image_bytes"]
        print(f"fake vendor on {fake.url}, image {report['fake_image_bytes']} bytes", flush=True)
        if scenarios & {"a", "b", "c", "d", "f"}:
            await run_transports(report["transports"], transports, fake, args, scenarios, started)
        if "e" in scenarios:  # the gateway's own transport (aiohttp), so once per run
            report["e"] = await scenario_e(fake, args)
        report["fake_health_end"] = fake.health()
    finally:
        fake.stop()
    report["loadavg_end"] = os.getloadavg()
    report["total_s"] = time.monotonic() - started
    return report


async def run_transports(
    done: list[dict], transports: list[str], fake: FakeVendorProcess, args, scenarios: set[str], started: float
) -> None:
    """One gateway after the other, each transport's figures appended to ``done`` as it ends."""
    for i, transport in enumerate(transports):
        if time.monotonic() - started > args.max_minutes * 60:
            print(f"--max-minutes {args.max_minutes} reached: skipping {transport}", flush=True)
            break
        if i and not scenarios & {"a", "b"}:  # (c) and (d) run on the first transport only
            print(f"[{transport}] skipped: (c) and (d) run with the first transport only", flush=True)
            continue
        done.append(await bench_transport(transport, fake, args, scenarios, first=i == 0))


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(description="imagegen benchmarks (127.0.0.1 only)")
    parser.add_argument("--only", default="a,b,c,d,e,f", help="scenarios to run, e.g. a,b")
    parser.add_argument(
        "--transport", default="aiohttp", help="HTTP_TRANSPORT values (aiohttp,httpx); the first also runs (c) and (d)"
    )
    parser.add_argument("--holding", type=int, default=1000, help="(b) concurrent chat completions")
    parser.add_argument("--latency", type=float, default=5.0, help="(b) fake vendor latency, seconds")
    parser.add_argument(
        "--optimizer-latency", type=float, default=0.5, help="(b) the fake optimizer LLM's latency, seconds"
    )
    parser.add_argument("--stream-holding", type=int, default=2000, help="(d) concurrent streamed chat completions")
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
    parser.add_argument(
        "--gateway-env", action="append", default=[], metavar="NAME=VALUE", help="an extra setting for the gateway"
    )
    parser.add_argument("--f-seconds", type=float, default=20.0, help="(f) seconds of Poisson arrivals per run")
    parser.add_argument("--e-n", type=int, default=600, help="(e) chat completions per run (one, then two instances)")
    parser.add_argument("--e-c", type=int, default=16, help="(e) concurrency")
    parser.add_argument(
        "--no-pin", dest="pin", action="store_false", help="do not pin the gateway to core 0 and the rest to core 1"
    )
    parser.add_argument("--no-access-log", dest="access_log", action="store_false", help="gunicorn without access log")
    parser.add_argument("--max-minutes", type=float, default=20.0, help="start no new transport after this long")
    parser.add_argument("--out", type=Path, default=RESULTS / "latest.json")
    parser.add_argument("--table-from", type=Path, metavar="JSON", help="only print the table of a saved run")
    return parser


def raise_fd_limit() -> None:
    # 500 client sockets + 500 gateway sockets + 500 upstream sockets: lift the soft fd limit.
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    wanted = hard if hard != resource.RLIM_INFINITY else 65536
    if soft != resource.RLIM_INFINITY and soft < wanted:
        resource.setrlimit(resource.RLIMIT_NOFILE, (wanted, hard))


def pin_cores(args) -> None:
    """The gateway on core 0, this process (the load client) and the fake on the others (they inherit it)."""
    cores = sorted(os.sched_getaffinity(0))
    args.gateway_cpus = {cores[0]} if args.pin and len(cores) > 1 else None
    if args.gateway_cpus:
        os.sched_setaffinity(0, set(cores[1:]))


def save(report: dict, out: Path) -> str:
    """Write the JSON and, beside it, the Markdown table; the table."""
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(report, indent=2, default=str))
    table = markdown(report)
    (out.with_suffix(".md")).write_text(table + "\n")
    return table


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.table_from:
        print(markdown(json.loads(args.table_from.read_text())))
        return 0
    if not set(args.only.split(",")) <= {"a", "b", "c", "d", "e", "f"}:
        parser.error("--only takes a comma-separated subset of a,b,c,d,e,f")
    if not set(args.transport.split(",")) <= {"aiohttp", "httpx"}:
        parser.error("--transport takes aiohttp and/or httpx")
    raise_fd_limit()
    pin_cores(args)
    signal.signal(signal.SIGTERM, _terminate)
    report = asyncio.run(main_async(args))
    table = save(report, args.out)
    print()
    print(table)
    print(f"\nJSON: {args.out}")
    return 1 if any(r.get("error") for r in report["transports"]) else 0


if __name__ == "__main__":
    sys.exit(main())
