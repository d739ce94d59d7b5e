"""One gateway per HTTP_TRANSPORT, started the way ``make run`` does, and the scenarios run against it.

The gateway gets a fresh SQLite database in a temporary folder (through tests/gateway_process.py),
the fake as its only vendor, and gunicorn with ``make run``'s flags. Its log is kept in
``bench/results/gateway-<transport>.log`` and scanned for errors; the folder is removed afterwards.
"""

from __future__ import annotations

import re
import secrets
import shutil
import tempfile
import time
from pathlib import Path

from bench_requests import MODEL, OPTIMIZER_MODEL
from fake_vendor_process import FakeVendorProcess
from paths import RESULTS
from scenario_a_overhead import scenario_a
from scenario_b_holding import scenario_b
from scenario_c_images import scenario_c
from scenario_d_streaming import scenario_d
from scenario_f_poisson import scenario_f

from tests.gateway_process import GatewayProcess

# `make run`'s gunicorn flags that GatewayProcess does not pass itself (it passes make run's
# --config python:imagegen.gunicorn_config: the worker class, the graceful and worker timeouts).
MAKE_RUN_GUNICORN_ARGS = "--access-logfile -"


def gunicorn_cmd_args(access_log: bool) -> str:
    return MAKE_RUN_GUNICORN_ARGS if access_log else ""


def gateway_env(transport: str, fake: FakeVendorProcess, args, client_key: str) -> dict[str, str]:
    return {
        "FLUX_GEN_API_BASE": fake.url + "/v1",
        "FLUX_GEN_MODEL": MODEL,
        "FLUX_GEN_API_KEY": "k1,k2",
        # The prompt optimizer (fast mode) on the same fake: every completion makes two vendor calls.
        "OPENAI_API_BASE": fake.url + "/v1",
        "OPENAI_API_KEY": "llm-k1",
        "OPENAI_MODEL": OPTIMIZER_MODEL,
        "AUTHORIZED_API_KEY": client_key,
        "HTTP_TRANSPORT": transport,
        "LOG_LEVEL": "WARNING",
        "STREAM_HEARTBEAT_SECONDS": f"{args.stream_heartbeat:g}",
        "WEB_CONCURRENCY": str(args.workers),
        "GUNICORN_CMD_ARGS": gunicorn_cmd_args(args.access_log),
    } | dict(item.split("=", 1) for item in getattr(args, "gateway_env", []))


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
    env = gateway_env(transport, fake, args, client_key)
    data_dir = Path(tempfile.mkdtemp(prefix=f"imagegen-bench-{transport}-"))
    gateway = GatewayProcess(data_dir, env, workers=args.workers, server="gunicorn", cpus=args.gateway_cpus)
    out: dict = {"transport": transport}
    try:
        started = time.monotonic()
        gateway.start()
        out["start_s"] = time.monotonic() - started
        out["database"] = "postgresql" if gateway._database else "sqlite"
        print(f"[{transport}] gateway on {gateway.url} (pid {gateway.process.pid})", flush=True)
        await run_scenarios(out, gateway, client_key, fake, args, scenarios, first)
    except Exception as exc:
        out["error"] = f"{type(exc).__name__}: {exc}"
        print(f"[{transport}] FAILED: {out['error']}", flush=True)
    finally:
        gateway.stop()
        log = gateway.log()
        out["gateway_log"] = gateway_log_findings(log)
        RESULTS.mkdir(exist_ok=True)
        (RESULTS / f"gateway-{transport}.log").write_text(log)
        shutil.rmtree(data_dir, ignore_errors=True)
    return out


async def run_scenarios(out: dict, gateway, client_key: str, fake, args, scenarios: set[str], first: bool) -> None:
    """Each scenario's figures go into ``out`` as soon as it ends, so a later failure keeps them."""
    if "a" in scenarios:
        out["a"] = await scenario_a(gateway, client_key, fake, args)
    if "b" in scenarios:  # before (c), so every transport's gateway has seen the same traffic here
        out["b"] = await scenario_b(gateway, client_key, fake, args)
    if "c" in scenarios and first:  # the transport only concerns upstream calls, not serving
        out["c"] = await scenario_c(gateway, client_key, fake, args)
    if "f" in scenarios and first:  # after (a), whose CPU per completion sets the first rate
        cpu_ms = out.get("a", {}).get("c16", {}).get("gateway", {}).get("gateway_cpu_ms_per_request")
        out["f"] = await scenario_f(gateway, client_key, fake, args, cpu_ms)
    if "d" in scenarios and first:  # one transport is enough: a stream waits like (b) does, plus heartbeats
        out["d"] = await scenario_d(gateway, client_key, fake, args)
