"""What ``latest.json`` records about a run besides its figures: the machine, versions, git revision,
the configuration, and the load average, so runs on a shared machine can be compared honestly."""

from __future__ import annotations

import datetime as dt
import os
import platform
import subprocess
import sys
from pathlib import Path

import aiohttp
from paths import ROOT
from transport_bench import gunicorn_cmd_args


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


def run_config(args) -> dict:
    return {
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
        "gunicorn": f"imagegen.asgi:application -c python:imagegen.gunicorn_config -w {args.workers} "
        + gunicorn_cmd_args(args.access_log),
    }


def new_report(args) -> dict:
    """The report before anything ran; the transports' figures are appended to ``transports``."""
    return {
        "date": dt.datetime.now(dt.UTC).strftime("%Y-%m-%d %H:%M UTC"),
        "command": " ".join([Path(sys.executable).name, *sys.argv]),
        "git": git_revision(),
        "machine": machine(),
        "versions": versions(),
        "loadavg_start": os.getloadavg(),
        "config": run_config(args),
        "transports": [],
    }
