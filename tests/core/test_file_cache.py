"""The embedded default cache: one state for every process of the machine."""

import subprocess
import sys

from core.file_cache import SharedFileCache
from tests.gateway_process import ROOT

COUNT_UP = """
import sys
import django
from django.conf import settings
settings.configure(CACHES={"default": {"BACKEND": "core.file_cache.SharedFileCache", "LOCATION": sys.argv[1]}})
django.setup()
from django.core.cache import cache
cache.add("rotation", 0, timeout=None)
for _ in range(int(sys.argv[2])):
    cache.incr("rotation")
"""


def test_counters_two_processes_raise_at_the_same_time_lose_no_step(tmp_path):
    argv = [sys.executable, "-c", COUNT_UP, str(tmp_path / "cache"), "400"]
    workers = [subprocess.Popen(argv, cwd=ROOT) for _ in range(2)]
    assert [worker.wait(60) for worker in workers] == [0, 0]

    assert SharedFileCache(str(tmp_path / "cache"), {}).get("rotation") == 800


def test_the_backend_instances_django_makes_per_request_share_one_open_cache(tmp_path):
    first, second = (SharedFileCache(str(tmp_path / "cache"), {}) for _ in range(2))
    first.set("cooldown", 12.5, timeout=30)

    assert first._cache is second._cache
    assert second.get("cooldown") == 12.5
