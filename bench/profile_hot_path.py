"""Where a chat completion's CPU goes: py-spy samples one gateway worker under load; flame graphs saved.

    .venv/bin/python bench/profile_hot_path.py --label before          # bench/flamegraphs/chat-before.svg
    .venv/bin/python bench/profile_hot_path.py --label after --what images

One gateway as ``bench/run.py`` starts it (gunicorn, the gateway's config), but with one worker so
one py-spy follows every request, pinned to core 0; the fake vendor (with the optimizer LLM) and the
load client on core 1. ``--what chat`` sends N chat completions at concurrency C against the 0 s fake;
``--what images`` GETs one stored image N times. py-spy records the worker at 997 Hz, only the thread
holding the GIL (``--gil``) and without pausing it (``--nonblocking``), into an SVG flame graph
(``bench/flamegraphs/``) and a collapsed-stack text file (``bench/results/``); the script prints the
share of samples under each stage's frames (``STAGES``) and the CPU ms per request. ``--no-spy``
measures the CPU alone.
"""

from __future__ import annotations

import argparse
import asyncio
import collections
import os
import secrets
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

BENCH = Path(__file__).resolve().parent
sys.path.insert(0, str(BENCH.parent))
sys.path.insert(0, str(BENCH))

from bench_requests import chat_check, chat_request  # noqa: E402
from fake_vendor_process import FakeVendorProcess  # noqa: E402
from load import client_session, run_load  # noqa: E402
from meters import CpuMeter  # noqa: E402
from paths import RESULTS  # noqa: E402
from transport_bench import gateway_env  # noqa: E402

from tests.gateway_process import GatewayProcess  # noqa: E402

FLAMEGRAPHS = BENCH / "flamegraphs"
# A sample counts for the first stage (in this order) whose marker appears in its stack.
STAGES = [
    ("optimizer (prompt rewrite)", ("prompts.py", "optimizer")),
    ("fetch + verify image", ("core/fetch.py", "PIL/")),
    ("store image", ("proxy/services.py", "object_store.py", "storage.py")),
    ("vendor call (adapter, keys)", ("vendors/",)),
    ("ledger, limits, costs (db)", ("ledger.py", "client_limits.py", "client_budget.py", "costs.py", "db/")),
    ("metrics", ("prometheus_client", "core/metrics.py")),
    ("auth, parsing, validation", ("api/auth.py", "api/parsing.py", "serializers.py", "rest_framework")),
    ("answer (JSON, streaming)", ("answers.py", "streaming.py")),
    ("Django request/response", ("django/core/handlers", "django/http")),
    ("uvicorn / asyncio / sockets", ("uvicorn", "asyncio", "httptools", "h11")),
]


def stage_shares(collapsed: Path) -> dict[str, float]:
    counts: collections.Counter[str] = collections.Counter()
    for line in collapsed.read_text().splitlines():
        stack, _, n = line.rpartition(" ")
        stage = next((name for name, marks in STAGES if any(m in stack for m in marks)), "other")
        counts[stage] += int(n)
    total = sum(counts.values()) or 1
    return {name: counts[name] / total for name, _ in [*STAGES, ("other", ())]}


async def drive(gateway: GatewayProcess, key: str, what: str, n: int, c: int) -> int:
    chat = chat_request(gateway.url, key)
    async with client_session() as session:
        warm = await run_load(session, chat, n=50, concurrency=c, check=chat_check)
        if what == "chat":
            with CpuMeter(gateway.process.pid, os.getpid()) as cpu:
                result = await run_load(session, chat, n=n, concurrency=c, check=chat_check)
        else:
            link = await one_image_link(session, gateway.url, key)
            with CpuMeter(gateway.process.pid, os.getpid()) as cpu:
                result = await run_load(session, lambda s: s.get(link), n=n, concurrency=c)
    ok = result.summary()["ok"]
    print(f"warm-up {warm.summary()['ok']}/50 ok")
    print(f"{ok}/{n} ok; gateway CPU {cpu.used['gateway_cpu_s'] * 1000 / max(ok, 1):.2f} ms per request")
    return ok


async def one_image_link(session, url: str, key: str) -> str:
    body = {"model": "bench-model", "prompt": "a lighthouse"}
    headers = {"Authorization": f"Bearer {key}"}
    async with session.post(url + "/v1/images/generations", json=body, headers=headers) as answer:
        return (await answer.json())["data"][0]["url"]


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--label", default="now")
    parser.add_argument("--what", choices=("chat", "images"), default="chat")
    parser.add_argument("-n", type=int, default=2000)
    parser.add_argument("-c", type=int, default=16)
    parser.add_argument("--env", action="append", default=[], metavar="NAME=VALUE", help="extra gateway setting")
    parser.add_argument("--no-spy", dest="spy", action="store_false", help="only measure the CPU per request")
    return parser.parse_args()


def spied(gateway: GatewayProcess, key: str, args: argparse.Namespace) -> None:
    """Drive the load with two py-spy recorders on the worker: the SVG and the collapsed stacks."""
    svg = FLAMEGRAPHS / f"{args.what}-{args.label}.svg"
    collapsed = RESULTS / f"{args.what}-{args.label}.folded.txt"  # megabytes: kept out of git
    FLAMEGRAPHS.mkdir(exist_ok=True)
    RESULTS.mkdir(exist_ok=True)
    pid = str(gateway.worker_pids()[0])
    spy = [
        str(Path(sys.executable).parent / "py-spy"),
        "record",
        "--pid",
        pid,
        "--rate",
        "997",
        "--gil",
        "--nonblocking",
    ]
    flame = subprocess.Popen([*spy, "--output", str(svg), "--format", "flamegraph"], stdout=subprocess.DEVNULL)
    raw = subprocess.Popen([*spy, "--output", str(collapsed), "--format", "raw"], stdout=subprocess.DEVNULL)
    asyncio.run(drive(gateway, key, args.what, args.n, args.c))
    for spy_process in (flame, raw):
        spy_process.send_signal(2)
        spy_process.wait(60)
    for name, share in stage_shares(collapsed).items():
        print(f"  {name:32s} {share * 100:5.1f}%")


def main() -> None:
    args = parse_args()
    cores = sorted(os.sched_getaffinity(0))
    os.sched_setaffinity(0, set(cores[1:]) or set(cores))
    fake = FakeVendorProcess(200, max_seconds=900).start()
    data_dir = Path(tempfile.mkdtemp(prefix="imagegen-profile-"))
    key = "bench-" + secrets.token_hex(12)
    bench_args = argparse.Namespace(stream_heartbeat=10, workers=1, access_log=True)
    env = gateway_env("aiohttp", fake, bench_args, key) | dict(item.split("=", 1) for item in args.env)
    gateway = GatewayProcess(data_dir, env, workers=1, server="gunicorn", cpus={cores[0]})
    try:
        gateway.start()
        if args.spy:
            spied(gateway, key, args)
        else:
            asyncio.run(drive(gateway, key, args.what, args.n, args.c))
    finally:
        gateway.stop()
        fake.stop()
        shutil.rmtree(data_dir, ignore_errors=True)


if __name__ == "__main__":
    main()
