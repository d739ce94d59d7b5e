"""CPU and memory of a process tree, read from /proc while the load runs.

The gateway is a gunicorn master with uvicorn workers, so every figure is summed over the master
and all its descendants (found through ``/proc/<pid>/task/*/children``). ``CpuMeter`` counts the CPU
used during a block; ``RssSampler`` samples ``VmRSS`` and ``Threads`` in a thread and keeps the peaks.
"""

from __future__ import annotations

import os
import threading
import time


def process_tree(root: int) -> list[int]:
    """``root`` and its descendants, from /proc/<pid>/task/<tid>/children."""
    pids, queue = [], [root]
    while queue and len(pids) < 1000:  # bounded
        pid = queue.pop()
        pids.append(pid)
        try:
            for task in os.listdir(f"/proc/{pid}/task"):
                with open(f"/proc/{pid}/task/{task}/children") as fh:
                    queue.extend(int(child) for child in fh.read().split())
        except OSError:
            continue
    return pids


def proc_status(pid: int, field: str) -> int:
    """An integer field of /proc/<pid>/status (VmRSS in kB, Threads), 0 when the process is gone."""
    try:
        with open(f"/proc/{pid}/status") as fh:
            for line in fh:
                if line.startswith(field + ":"):
                    return int(line.split()[1])
    except OSError:
        pass
    return 0


def tree_rss_kb(root: int) -> tuple[int, int]:
    """(sum of VmRSS in kB, number of processes) over ``root``'s tree."""
    pids = process_tree(root)
    return sum(proc_status(pid, "VmRSS") for pid in pids), len(pids)


def tree_threads(root: int) -> int:
    return sum(proc_status(pid, "Threads") for pid in process_tree(root))


def tree_cpu_s(root: int) -> float:
    """CPU seconds (user + system) used so far by ``root``'s tree, from /proc/<pid>/stat."""
    ticks = 0
    for pid in process_tree(root):
        try:
            with open(f"/proc/{pid}/stat") as fh:
                fields = fh.read().rsplit(")", 1)[1].split()
            ticks += int(fields[11]) + int(fields[12])  # utime, stime (fields 14 and 15)
        except (OSError, IndexError, ValueError):
            continue
    return ticks / os.sysconf("SC_CLK_TCK")


class CpuMeter:
    """CPU seconds used during a block by the gateway tree, the fake vendor and this (client) process."""

    def __init__(self, gateway_pid: int, fake_pid: int) -> None:
        self.pids = {"gateway": gateway_pid, "fake": fake_pid}
        self.used: dict[str, float] = {}

    def _now(self) -> dict[str, float]:
        now = {name: tree_cpu_s(pid) for name, pid in self.pids.items()}
        now["client"] = time.process_time()
        return now

    def __enter__(self) -> CpuMeter:
        self._start, self._wall = self._now(), time.monotonic()
        return self

    def __exit__(self, *exc) -> None:
        end, wall = self._now(), time.monotonic() - self._wall
        self.used = {f"{name}_cpu_s": end[name] - self._start[name] for name in end}
        self.used["wall_s"] = wall
        # Busy share of the whole machine (2 cores = 100%), all three together.
        self.used["machine_busy_pct"] = 100 * sum(end[n] - self._start[n] for n in end) / wall / (os.cpu_count() or 1)


class RssSampler:
    """Sums VmRSS over a process tree every ``interval`` s in a thread; keeps the peak."""

    def __init__(self, root: int, interval: float = 0.1, max_seconds: float = 600.0) -> None:
        self.root = root
        self.interval = interval
        self.max_seconds = max_seconds
        self.peak_kb = 0
        self.peak_processes = 0
        self.peak_threads = 0
        self.samples = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True, name="rss-sampler")

    def _run(self) -> None:
        deadline = time.monotonic() + self.max_seconds
        while not self._stop.is_set() and time.monotonic() < deadline:  # bounded in time
            total, count = tree_rss_kb(self.root)
            self.peak_threads = max(self.peak_threads, tree_threads(self.root))
            self.samples += 1
            if total > self.peak_kb:
                self.peak_kb, self.peak_processes = total, count
            self._stop.wait(self.interval)

    def __enter__(self) -> RssSampler:
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self._stop.set()
        self._thread.join(5)
