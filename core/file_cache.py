"""The embedded default cache: diskcache's Django backend, opened once per process.

diskcache keeps the cache in SQLite files that every process of the machine opens, and makes each
write one SQLite transaction, so ``add`` and ``incr`` are atomic across gunicorn's workers: the
key rotation and the cooldowns are one state, as with Redis. Django, though, makes a backend
instance per async context and thread (its cache handler is an asgiref ``Local``), which here would
mean opening and checking eight SQLite files several times per request (it tripled the gateway's
CPU per completion). So every instance of a process shares one ``FanoutCache`` per directory; it is
thread-safe, with a SQLite connection per thread.
"""

from __future__ import annotations

from functools import cache

from diskcache import DjangoCache, FanoutCache
from django.core.cache.backends.base import BaseCache


@cache
def _opened(directory: str, shards: int, timeout: float, options: tuple) -> FanoutCache:
    return FanoutCache(directory, shards, timeout, **dict(options))


class SharedFileCache(DjangoCache):
    def __init__(self, directory: str, params: dict):
        BaseCache.__init__(self, params)
        options = tuple(sorted(params.get("OPTIONS", {}).items()))
        self._cache = _opened(directory, params.get("SHARDS", 8), params.get("DATABASE_TIMEOUT", 0.010), options)

    def close(self, **kwargs):
        """Keep the connections: Django closes caches after every request, and they are reused."""
