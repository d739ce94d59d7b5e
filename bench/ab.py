"""The same scenarios on two revisions, alternately, in one run: figures as ratios, not absolutes.

    .venv/bin/python bench/ab.py --base 3f18f5d --only a,b,c,f --rounds 2

This machine's speed drifts by a third within an hour (a neighbour's load, CPU steal), so a figure
measured at one time is only comparable with one measured minutes apart. Here the base revision is
checked out in a temporary worktree (the same ``.venv``, and this ``bench/`` and
``tests/gateway_process.py`` copied over it, so both sides run the same harness), and
``bench/run.py`` runs for the base, then for this checkout, ``--rounds`` times (``--this-env`` adds
what this checkout's Makefile exports and the base's did not, e.g. ``MALLOC_ARENA_MAX=2``). It prints, per figure,
each side's median over the rounds and after / base, and writes ``bench/results/ab.json``.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

BENCH = Path(__file__).resolve().parent
ROOT = BENCH.parent
RESULTS = BENCH / "results"

FIGURES = {  # name -> path in run.py's JSON (transport 0), what a lower or higher value means
    "(a) c=16 gateway CPU ms per completion": (("a", "c16", "gateway", "gateway_cpu_ms_per_request"), "lower"),
    "(a) c=1 gateway CPU ms per completion": (("a", "c1", "gateway", "gateway_cpu_ms_per_request"), "lower"),
    "(a) c=16 completions/s": (("a", "c16", "gateway", "rps"), "higher"),
    "(b) gateway CPU ms per completion": (("b", "gateway_cpu_ms_per_request"), "lower"),
    "(b) p99 − vendor ms": (("b", "p99_minus_latency_ms"), "lower"),
    "(b) peak RSS MiB": (("b", "peak_rss_mib"), "lower"),
    "(b) succeeded": (("b", "result", "ok"), "higher"),
    "(c) gateway image GETs/s": (("c", "gateway", "rps"), "higher"),
    "(c) fake vendor image GETs/s (the machine's yardstick)": (("c", "fake", "rps"), "higher"),
    "(d) streams succeeded": (("d", "result", "ok"), "higher"),
    "(d) p99 total − 30 s ms": (("d", "p99_minus_latency_ms"), "lower"),
    "(d) peak RSS MiB": (("d", "peak_rss_mib"), "lower"),
    "(f) images/s offered at ~80% (second run)": (("f", "final", "rate_per_s"), "higher"),
    "(f) CPU ms per completion": (("f", "final", "gateway_cpu_ms_per_completion"), "lower"),
}


def base_checkout(rev: str) -> Path:
    folder = Path(tempfile.mkdtemp(prefix="imagegen-ab-")) / "base"
    subprocess.run(["git", "worktree", "add", "--detach", str(folder), rev], cwd=ROOT, check=True)
    (folder / ".venv").symlink_to(ROOT / ".venv")
    shutil.copytree(BENCH, folder / "bench", dirs_exist_ok=True, ignore=shutil.ignore_patterns("results"))
    shutil.copy(ROOT / "tests" / "gateway_process.py", folder / "tests" / "gateway_process.py")
    shutil.copytree(ROOT / "docker", folder / "docker", dirs_exist_ok=True)
    return folder


def run_once(checkout: Path, only: str, out: Path, env: dict[str, str]) -> dict:
    command = [str(ROOT / ".venv" / "bin" / "python"), "bench/run.py", "--only", only, "--out", str(out)]
    subprocess.run(command, cwd=checkout, check=False, stdout=subprocess.DEVNULL, env=os.environ | env)
    return json.loads(out.read_text())["transports"][0]


def figure(run: dict, path: tuple[str, ...]) -> float | None:
    value = run
    for step in path:
        if not isinstance(value, dict) or step not in value:
            return None
        value = value[step]
    return value


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--base", required=True, help="the revision to compare with (e.g. a commit)")
    parser.add_argument("--only", default="a,b,c,f")
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument(
        "--this-env",
        action="append",
        default=[],
        metavar="NAME=VALUE",
        help="set for this checkout's runs only: what its Makefile exports and the base's did not",
    )
    args = parser.parse_args()
    RESULTS.mkdir(exist_ok=True)
    this_env = dict(item.split("=", 1) for item in args.this_env)
    base = base_checkout(args.base)
    runs: dict[str, list[dict]] = {"base": [], "this": []}
    try:
        for round_number in range(args.rounds):
            for side, checkout, env in (("base", base, {}), ("this", ROOT, this_env)):
                print(f"round {round_number + 1}: {side}", flush=True)
                out = RESULTS / f"ab-{side}-{round_number}.json"
                runs[side].append(run_once(checkout, args.only, out, env))
    finally:
        subprocess.run(["git", "worktree", "remove", "--force", str(base)], cwd=ROOT, check=False)
    report = summary(runs, args)
    (RESULTS / "ab.json").write_text(json.dumps({"args": vars(args), "figures": report}, indent=2))
    print(table(report, args))


def summary(runs: dict[str, list[dict]], args) -> dict:
    out = {}
    for name, (path, better) in FIGURES.items():
        values = {side: [v for r in runs[side] if (v := figure(r, path)) is not None] for side in runs}
        if values["base"] and values["this"]:
            medians = {side: statistics.median(v) for side, v in values.items()}
            ratio = medians["this"] / medians["base"] if medians["base"] else float("nan")
            out[name] = {"base": values["base"], "this": values["this"], **medians, "ratio": ratio, "better": better}
    return out


def table(report: dict, args) -> str:
    lines = [
        f"| figure (median of {args.rounds}) | {args.base} | this checkout | this / base |",
        "|---|---|---|---|",
    ]
    for name, row in report.items():
        lines.append(f"| {name} | {row['base']:.1f} | {row['this']:.1f} | {row['ratio']:.2f}× |")
    return "\n".join(lines)


if __name__ == "__main__":
    sys.exit(main())
