"""Markdown for what issue 14 added to the run: image serving behind nginx, and (f) Poisson arrivals."""

from __future__ import annotations


def _num(value, digits: int = 1) -> str:
    return "n/a" if value is None or value != value else f"{value:.{digits}f}"


def nginx_rows(c: dict) -> list[str]:
    """Rows for the image serving table: the same GETs through nginx (cached, offloaded)."""
    nginx = c.get("nginx") or {}
    if "skipped" in nginx:
        return [f"| behind nginx | skipped: {nginx['skipped']} |||||||"]
    rows = []
    for way, label in (("cached", "nginx cache in front"), ("offloaded", "nginx + gateway `X-Accel-Redirect`")):
        s = nginx.get(way)
        if not s:
            continue
        server_s = s["cpu"]["gateway_cpu_s"] + s["cpu"]["nginx_cpu_s"]
        rows.append(
            f"| {label} | {_num(s['rps'], 0)} | {_num(s['mb_per_s'], 0)} | {_num(s['p50_ms'])} | {_num(s['p99_ms'])} "
            f"| {_num(server_s * 1000 / max(s['ok'], 1), 2)} (gateway "
            f"{_num(s['cpu']['gateway_cpu_s'] * 1000 / max(s['ok'], 1), 2)}) "
            f"| {_num(s['cpu']['machine_busy_pct'], 0)}% | {s['ok']}/{s['n']} |"
        )
    return rows


def poisson_section(f: dict) -> list[str]:
    out = [
        "### (f) Poisson arrivals at 80% of the gateway's core (0.5 s optimizer + 5 s image fake)",
        "",
        "| run | offered /s | sent | ok | **images/s** | gateway CPU share | CPU ms/completion "
        "| p50 − vendor | p99 − vendor | statuses |",
        "|---|---|---|---|---|---|---|---|---|---|",
    ]
    for i, run in enumerate(f["runs"], 1):
        out.append(
            f"| {i} | {_num(run['rate_per_s'])} | {run['sent']} | {run['ok']} | **{_num(run['images_per_s'])}** "
            f"| {_num(run['gateway_cpu_share'] * 100, 0)}% | {_num(run['gateway_cpu_ms_per_completion'], 2)} "
            f"| {_num(run['p50_minus_vendor_ms'], 0)} | {_num(run['p99_minus_vendor_ms'], 0)} | {run['statuses']} |"
        )
    return [*out, ""]
