"""The Markdown table of a run (printed, and saved as ``bench/results/latest.md``), from its JSON report.

``markdown`` works on the saved JSON alone, so ``run.py --table-from`` reprints any earlier run.
Sections for scenarios that did not run are left out; a figure that is missing or NaN shows as n/a.
"""

from __future__ import annotations

import math

from report_extra import nginx_rows, poisson_section


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
        out += overhead_section(runs)
    if any("b" in r for r in runs):
        out += holding_section(runs, report["config"]["holding"])
    c_run = next((r for r in runs if "c" in r), None)
    if c_run:
        out += image_serving_section(c_run["c"], report["config"])
    for r in runs:
        if "d" in r:
            out += streaming_section(r["d"], r["transport"])
        if "f" in r:
            out += poisson_section(r["f"])
    if report.get("e"):
        out += instances_section(report["e"])
    out += transport_comparison(runs)
    out += problems(runs)
    return "\n".join(out)


def overhead_section(runs: list[dict]) -> list[str]:
    out = [
        "### (a) Gateway overhead (0 s fake; overhead = gateway − fake direct, same client and concurrency)",
        "",
        "| transport | c | n | gateway p50 | gateway p99 | fake p50 | fake p99 | **overhead p50** "
        "| **overhead p99** | gateway req/s | gateway CPU ms/req | machine busy | ok |",
        "|---|---|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for r in runs:
        if "a" not in r:
            continue
        for c in ("c1", "c16"):
            a = r["a"][c]
            g, f = a["gateway"], a["fake_direct"]
            out.append(
                f"| {r['transport']} | {g['concurrency']} | {g['n']} | {f1(g['p50_ms'])} | {f1(g['p99_ms'])} "
                f"| {f1(f['p50_ms'])} | {f1(f['p99_ms'])} | **{f1(a['overhead_p50_ms'])}** "
                f"| **{f1(a['overhead_p99_ms'])}** | {f0(g['rps'])} | {f1(g['gateway_cpu_ms_per_request'])} "
                f"| {f0(g['cpu']['machine_busy_pct'])}% | {g['ok']}/{g['n']} |"
            )
    out.append("")
    return out


def holding_section(runs: list[dict], holding: int) -> list[str]:
    lat = next(r["b"]["latency_s"] for r in runs if "b" in r)
    out = [
        f"### (b) Holding power ({holding} concurrent chat completions, {lat:g} s fake)",
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
    return out


def image_serving_section(c: dict, config: dict) -> list[str]:
    out = [
        f"### (c) Image serving ({c['gateway_image_bytes'] / 1024:.0f} KB PNG, c={config['image_c']}, "
        f"n={config['image_n']})",
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
    out += nginx_rows(c)
    out += ["", f"Gateway / fake requests per second: {c['gateway_over_fake_rps']:.2f}.", ""]
    return out


def streaming_section(d: dict, transport: str) -> list[str]:
    s, lat = d["result"], d["latency_s"]
    out = [
        f"### (d) Streaming holding power ({s['n']} concurrent streamed chat completions, {lat:g} s fake, "
        f"heartbeat {d['heartbeat_s']:g} s, {transport})",
        "",
        "| success | first chunk p50 | first chunk p99 | heartbeats min / median | **largest gap p99 (s)** "
        f"| largest gap max (s) | gaps > {d['gap_limit_s']:g} s | **p99 total − {lat:g} s** | images served "
        "| **peak RSS (MiB)** | idle RSS (MiB) | peak threads | gateway CPU | statuses |",
        "|---|---|---|---|---|---|---|---|---|---|---|---|---|---|",
        streaming_row(d),
        "",
        *streaming_notes(d),
    ]
    if s["failures"]:
        out += [f"(d) failures: {s['failures'][:5]}", ""]
    return out


def streaming_row(d: dict) -> str:
    s, v = d["result"], d["images_verified"]
    return (
        f"| {s['ok']}/{s['n']} ({s['success_rate'] * 100:.1f}%) | {f0(d['ttfc_p50_ms'])} | {f0(d['ttfc_p99_ms'])} "
        f"| {d['heartbeats_min']} / {d['heartbeats_median']:g} | **{d['max_gap_p99_s']:.2f}** "
        f"| {d['max_gap_max_s']:.2f} | {d['streams_over_gap_limit']} | **{f0(d['p99_minus_latency_ms'])}** "
        f"| {v['ok']}/{v['checked']} | **{f0(d['peak_rss_mib'])}** ({d['peak_rss_processes']} processes) "
        f"| {f0(d['baseline_rss_mib'])} | {d['peak_threads']} "
        f"| {d['cpu']['gateway_cpu_s']:.1f} s ({f1(d['gateway_cpu_ms_per_stream'])} ms/stream, "
        f"{f0(d['gateway_cpu_pct_of_one_core'])}% of a core) "
        f"| {s['statuses']} |"
    )


def streaming_notes(d: dict) -> list[str]:
    """The per-stream counts and where the time went, as two paragraphs under (d)'s table."""
    s, lat = d["result"], d["latency_s"]
    return [
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


def instances_section(e: dict) -> list[str]:
    """(e): one instance, then two, behind the same round-robin proxy."""
    out = [
        f"### (e) Two instances behind one address ({e['database']} + {e['cache']} cache, one worker each)",
        "",
        "| instances | ok/n | req/s | p50 | p99 | gateway CPU ms/req |",
        "|---|---|---|---|---|---|",
    ]
    for run in (e["one"], e["two"]):
        out.append(
            f"| {run['instances']} | {run['ok']}/{run['n']} | {f0(run['rps'])} | {f1(run['p50_ms'])} "
            f"| {f1(run['p99_ms'])} | {f1(run['gateway_cpu_ms_per_request'])} |"
        )
    ratios = e["ratios"]
    out += ["", f"Two / one: req/s ×{ratios['rps']:.2f}, p50 ×{ratios['p50']:.2f}, p99 ×{ratios['p99']:.2f}.", ""]
    return out


def transport_comparison(runs: list[dict]) -> list[str]:
    """aiohttp against httpx on the figures of (a) and (b), when both transports ran them."""
    by = {r["transport"]: r for r in runs}
    if "aiohttp" not in by or "httpx" not in by:
        return []
    rows = comparison_rows(by["aiohttp"], by["httpx"])
    if not rows:
        return []
    out = [
        "### HTTP_TRANSPORT: aiohttp vs httpx (same run)",
        "",
        "| metric | aiohttp | httpx | httpx − aiohttp | httpx / aiohttp |",
        "|---|---|---|---|---|",
    ]
    for label, x, y in rows:
        out.append(f"| {label} | {f1(x)} | {f1(y)} | {f1(y - x)} | {ratio(y, x)} |")
    out.append("")
    return out


def comparison_rows(ah: dict, hx: dict) -> list[tuple[str, float, float]]:
    rows = []
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
        rows.append(("(b) success %", ah["b"]["result"]["success_rate"] * 100, hx["b"]["result"]["success_rate"] * 100))
        rows.append(("(b) p99 − latency ms", ah["b"]["p99_minus_latency_ms"], hx["b"]["p99_minus_latency_ms"]))
        rows.append(("(b) peak RSS MiB", ah["b"]["peak_rss_mib"], hx["b"]["peak_rss_mib"]))
        rows.append(
            ("(b) gateway CPU ms/req", ah["b"]["gateway_cpu_ms_per_request"], hx["b"]["gateway_cpu_ms_per_request"])
        )
    return rows


def problems(runs: list[dict]) -> list[str]:
    """A transport that failed, and error lines in a gateway's log."""
    out = []
    for r in runs:
        if r.get("error"):
            out.append(f"**{r['transport']}: {r['error']}**")
        log = r.get("gateway_log", {})
        if log.get("error_lines"):
            out.append(
                f"{r['transport']} gateway log: {log['error_lines']} error lines, first: {log['first_errors'][:3]}"
            )
    return out
