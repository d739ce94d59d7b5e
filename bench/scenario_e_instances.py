"""(e) Two instances behind one address: chat completions per second and latency, one instance against two.

Two gateway instances (tests/instances.py: one database, one cache, one media folder; PostgreSQL +
Redis when DATABASE_URL and REDIS_URL name them, else SQLite + the embedded file cache), each one
gunicorn worker, the fake at 0 s latency. The same load (``--e-n`` chat completions at ``--e-c``)
runs twice through bench/round_robin_proxy.py, a stand-in for the compose file's reverse proxy: first
with instance 1 alone behind it, then with both. Both runs pay the proxy's hop, so the ratios compare
instances alone. Each run starts on a fresh client session (its connections spread over the instances).
"""

from __future__ import annotations

import secrets
import shutil
import tempfile
from pathlib import Path

from bench_requests import MODEL, chat_check, chat_request
from load import client_session, run_load
from meters import tree_cpu_s
from round_robin_proxy import RoundRobinProxy

from tests.gateway_process import GatewayProcess, free_port
from tests.instances import GatewayPair


async def scenario_e(fake, args) -> dict:
    fake.set_latency(0)
    client_key = "bench-" + secrets.token_hex(12)
    env = {
        "FLUX_GEN_API_BASE": fake.url + "/v1",
        "FLUX_GEN_MODEL": MODEL,
        "FLUX_GEN_API_KEY": "k1,k2",
        "AUTHORIZED_API_KEY": client_key,
        "LOG_LEVEL": "WARNING",
    }
    root = Path(tempfile.mkdtemp(prefix="imagegen-bench-instances-"))
    pair = GatewayPair(root, env, workers=1, server="gunicorn")
    try:
        pair.start()
        out = {
            "database": pair.first.env()["DATABASE_URL"].split(":", 1)[0],
            "cache": "redis" if pair.redis_url else "file",
        }
        out["one"] = await _through_proxy(pair.instances[:1], client_key, args)
        out["two"] = await _through_proxy(pair.instances, client_key, args)
    finally:
        pair.stop()
        shutil.rmtree(root, ignore_errors=True)
    out["ratios"] = {
        "rps": out["two"]["rps"] / out["one"]["rps"],
        "p50": out["two"]["p50_ms"] / out["one"]["p50_ms"],
        "p99": out["two"]["p99_ms"] / out["one"]["p99_ms"],
    }
    one, two, ratios = out["one"], out["two"], out["ratios"]
    print(
        f"  (e) one instance {one['rps']:.0f}/s p50 {one['p50_ms']:.1f} p99 {one['p99_ms']:.1f} ms; "
        f"two {two['rps']:.0f}/s p50 {two['p50_ms']:.1f} p99 {two['p99_ms']:.1f} ms; ×{ratios['rps']:.2f} throughput",
        flush=True,
    )
    return out


async def _through_proxy(instances: list[GatewayProcess], client_key: str, args) -> dict:
    with RoundRobinProxy(free_port(), [instance.port for instance in instances]) as proxy:
        chat = chat_request(proxy.url, client_key)
        async with client_session() as session:
            await run_load(session, chat, n=args.e_c * 4, concurrency=args.e_c, check=chat_check, max_seconds=60)
            cpu_before = [tree_cpu_s(instance.process.pid) for instance in instances]
            proxy_before = tree_cpu_s(proxy.process.pid)
            result = await run_load(session, chat, n=args.e_n, concurrency=args.e_c, check=chat_check, max_seconds=60)
            cpu = [
                tree_cpu_s(instance.process.pid) - before
                for instance, before in zip(instances, cpu_before, strict=True)
            ]
            proxy_cpu = tree_cpu_s(proxy.process.pid) - proxy_before
    summary = result.summary()
    summary["instances"] = len(instances)
    summary["instance_cpu_s"] = cpu
    summary["proxy_cpu_s"] = proxy_cpu
    summary["gateway_cpu_ms_per_request"] = sum(cpu) * 1000 / max(summary["ok"], 1)
    return summary
