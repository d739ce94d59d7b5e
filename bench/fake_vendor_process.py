"""``fake_vendor.py`` run as a child process for the benchmarks: start, health, latency, stop.

It logs to ``bench/results/fake-vendor.log`` and is told to exit by itself after ``max_seconds``,
so a bench killed without its ``finally`` leaves no fake behind for long.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time

from paths import BENCH, RESULTS, ROOT

from tests.gateway_process import free_port


def pinned_to(cpus: set[int] | None):
    """A ``preexec_fn`` that keeps the child (and its children) on ``cpus``; None leaves it free."""
    if not cpus:
        return None
    return lambda: os.sched_setaffinity(0, cpus)


class FakeVendorProcess:
    def __init__(self, image_kb: float, max_seconds: float, cpus: set[int] | None = None) -> None:
        self.cpus = cpus  # the cores it may run on (the load client's, not the gateway's)
        self.port = free_port()
        self.image_kb = image_kb
        self.max_seconds = max_seconds
        self.process: subprocess.Popen | None = None
        self.log_path = RESULTS / "fake-vendor.log"

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> FakeVendorProcess:
        argv = [sys.executable, str(BENCH / "fake_vendor.py"), "--port", str(self.port), "--latency", "0"]
        argv += ["--image-kb", str(self.image_kb), "--max-seconds", str(self.max_seconds)]
        self.log_path.parent.mkdir(exist_ok=True)
        self._log = open(self.log_path, "w")  # noqa: SIM115  (closed in stop)
        self.process = subprocess.Popen(
            argv, cwd=ROOT, stdout=self._log, stderr=subprocess.STDOUT, preexec_fn=pinned_to(self.cpus)
        )
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

    def set_latency(self, seconds: float, optimizer: float | None = None) -> None:
        body = {"latency": seconds}
        if optimizer is not None:
            body["optimizer_latency"] = optimizer
        self._call("POST", "/latency", body)

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
