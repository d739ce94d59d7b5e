"""What one generation asks of the database and the shared cache, counted in a real gateway process.

    .venv/bin/python bench/generation_load.py [-n 20]

Per storage pair (SQLite + the embedded file cache always; PostgreSQL + Redis too when DATABASE_URL
points at PostgreSQL and REDIS_URL is set) it starts one gateway (uvicorn, one process) through
tests/gateway_process.py with bench/counting/ on its PYTHONPATH (bench/counting/sitecustomize.py counts
Django's SQL statements and cache calls; the gateway's code is unchanged). Then for each kind of
request: 3 warm-up requests, then N, each with a new prompt (so no cache of the gateway answers for
the vendor), the counts read before and after, divided by N. With Redis, the Redis commands of the
gateway's keys are also counted with MONITOR (one cache call can be more than one command).

ROUTING_CACHE_SECONDS is raised for the run so the per-process snapshots (routing table, client keys,
optimizer settings) are built once, at warm-up; what a rebuild costs is printed apart ("snapshots").
The vendor and the optimizer LLM are fakes in this process (tests/fakes), answering at once.
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import sys
import tempfile
import threading
import time
from collections import Counter
from pathlib import Path

import httpx

BENCH = Path(__file__).resolve().parent
sys.path.insert(0, str(BENCH.parent))

from tests.fakes.openai_chat import OpenAIChatFake  # noqa: E402
from tests.fakes.siliconflow import SiliconFlowFake  # noqa: E402
from tests.gateway_process import GatewayProcess  # noqa: E402

CLIENT_KEY = "bench-generation-load-client"
MODEL = "bench-model"
KINDS = ("chat", "chat_stream", "images")


class Gateway:
    """One counting gateway and the requests of each kind."""

    def __init__(self, root: Path, env: dict[str, str]):
        self.counts_file = root / "counts.json"
        env = {**env, "BENCH_COUNTS_FILE": str(self.counts_file), "PYTHONPATH": str(BENCH / "counting")}
        self.process = GatewayProcess(root / "data", env)
        self.sent = 0

    def counts(self) -> dict[str, Counter]:
        self.counts_file.unlink(missing_ok=True)
        os.kill(self.process.process.pid, signal.SIGUSR1)
        deadline = time.monotonic() + 5
        while not self.counts_file.exists() and time.monotonic() < deadline:
            time.sleep(0.02)
        return {kind: Counter(values) for kind, values in json.loads(self.counts_file.read_text()).items()}

    def send(self, kind: str) -> None:
        self.sent += 1
        idea = f"a lighthouse number {self.sent} in fog"
        headers = {"Authorization": f"Bearer {CLIENT_KEY}"}
        if kind == "images":
            path, body = "/v1/images/generations", {"model": MODEL, "prompt": idea}
        else:
            path = "/v1/chat/completions"
            body = {"model": MODEL, "messages": [{"role": "user", "content": idea}], "stream": kind == "chat_stream"}
        response = httpx.post(self.process.url + path, json=body, headers=headers, timeout=30)
        if response.status_code != 200 or b"/images/" not in response.content:
            raise RuntimeError(f"{kind} failed: {response.status_code} {response.text[:300]}")


class RedisCommands:
    """Redis commands on keys of one cache prefix, counted with MONITOR from a thread of their own.

    A monitor connection that drops (it does when the gateway restarts here) is opened again, and
    ``reconnects`` says so: a phase with one may have missed commands, and is measured again."""

    def __init__(self, url: str, prefix: str):
        self.counts: Counter = Counter()
        self.reconnects = 0
        self.url, self.prefix = url, prefix
        self._monitor = self._open()
        threading.Thread(target=self._listen, daemon=True).start()

    def _open(self):
        import redis

        monitor = redis.Redis.from_url(self.url).monitor()
        monitor.__enter__()
        return monitor

    def _listen(self) -> None:
        import redis

        while True:
            try:
                command = self._monitor.next_command()["command"]
            except (redis.ConnectionError, redis.TimeoutError):
                self.reconnects += 1
                self._monitor = self._open()
                continue
            except Exception:  # a line of another client's that redis-py cannot parse: not ours
                continue
            if f"{self.prefix}:" in command:
                self.counts[command.split(None, 1)[0].upper()] += 1

    def snapshot(self) -> tuple[Counter, int]:
        time.sleep(0.3)  # MONITOR's echo of the last commands arrives a moment after their replies
        return Counter(self.counts), self.reconnects


def per_request(before: Counter, after: Counter, n: int) -> dict[str, float]:
    return {verb: round((after[verb] - before[verb]) / n, 2) for verb in sorted(after) if after[verb] != before[verb]}


def measure(gateway: Gateway, kind: str, n: int, redis_commands: RedisCommands | None) -> dict:
    for _ in range(3):
        gateway.send(kind)
    time.sleep(0.3)  # work that finishes after the answer (the ledger's last write) lands in the warm-up
    for _attempt in range(3):
        before, redis_before = gateway.counts(), redis_commands.snapshot() if redis_commands else None
        for _ in range(n):
            gateway.send(kind)
        time.sleep(0.3)
        after = gateway.counts()
        figures = {name: per_request(before[name], after[name], n) for name in ("sql", "cache")}
        if not redis_commands:
            return figures
        redis_after = redis_commands.snapshot()
        figures["redis"] = per_request(redis_before[0], redis_after[0], n)
        if redis_after[1] == redis_before[1]:  # the monitor saw the whole phase
            return figures
    figures["redis"] = "the MONITOR connection kept dropping"
    return figures


def optimizer(gateway: Gateway, mode: str) -> None:
    """The optimizer's mode (import_env set it from OPENAI_MODEL), read by the gateway after a restart."""
    gateway.process.python(f"from imagegen.models import OptimizerSettings as O; O.objects.update(mode={mode!r})")
    gateway.process.restart()


def snapshots_cost(gateway: Gateway, steady: dict[str, float]) -> dict[str, float]:
    """The queries of a first request after a restart, minus a steady one's: the snapshots' build."""
    gateway.process.restart()
    before = gateway.counts()
    gateway.send("chat")
    time.sleep(0.3)
    first = per_request(before["sql"], gateway.counts()["sql"], 1)
    extra = {verb: round(count - steady.get(verb, 0)) for verb, count in first.items()}
    return {verb: count for verb, count in extra.items() if count}


def run_pair(name: str, env: dict[str, str], n: int, llm: OpenAIChatFake) -> dict:
    with tempfile.TemporaryDirectory(prefix="imagegen-load-") as folder:
        if not env.get("REDIS_URL"):  # the embedded pair: SQLite beside the file cache
            env = {**env, "DATABASE_URL": f"sqlite:///{folder}/data/db.sqlite3"}
        gateway = Gateway(Path(folder), env)
        gateway.process.start()
        try:
            redis_url = env.get("REDIS_URL", "")
            prefix = gateway.process.env()["CACHE_KEY_PREFIX"]
            redis_commands = RedisCommands(redis_url, prefix) if redis_url else None
            optimizer(gateway, "off")
            results = {kind: measure(gateway, kind, n, redis_commands) for kind in KINDS}
            results["snapshots"] = {"sql": snapshots_cost(gateway, results["chat"]["sql"])}
            optimizer(gateway, "fast")
            llm_calls = len(llm.requests)
            results["chat_optimizer_on"] = measure(gateway, "chat", n, redis_commands)
            results["chat_optimizer_on"]["llm_calls"] = (len(llm.requests) - llm_calls) / (n + 3)
        finally:
            gateway.process.stop()
    return {"pair": name, **results}


def gateway_env(vendor: SiliconFlowFake, llm: OpenAIChatFake) -> dict[str, str]:
    return {
        "AUTHORIZED_API_KEY": CLIENT_KEY,
        "FLUX_GEN_API_BASE": vendor.url + "/v1",
        "FLUX_GEN_MODEL": MODEL,
        "FLUX_GEN_API_KEY": "k1,k2",
        "OPENAI_API_BASE": llm.url + "/v1",
        "OPENAI_API_KEY": "llm-k1",
        "OPENAI_MODEL": "bench-llm",
        "ROUTING_CACHE_SECONDS": "3600",
        "LOG_LEVEL": "WARNING",
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("-n", type=int, default=20, help="measured requests per kind (default 20)")
    args = parser.parse_args()
    vendor, llm = SiliconFlowFake().start(), OpenAIChatFake().start()
    llm.reply = lambda idea: f"{idea}, cinematic light"  # a new rewrite per idea: no image cache can answer
    try:
        env = gateway_env(vendor, llm)
        pairs = [("sqlite + file cache", {**env, "REDIS_URL": ""})]
        database, redis_url = os.environ.get("DATABASE_URL", ""), os.environ.get("REDIS_URL", "")
        if database.startswith(("postgres://", "postgresql://")) and redis_url:
            pairs.append(("postgresql + redis", {**env, "REDIS_URL": redis_url}))
        for name, pair_env in pairs:
            print(json.dumps(run_pair(name, pair_env, args.n, llm), indent=1), flush=True)
    finally:
        vendor.stop()
        llm.stop()


if __name__ == "__main__":
    main()
