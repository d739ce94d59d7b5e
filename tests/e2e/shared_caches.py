"""Which shared cache a gateway under test uses: the embedded file cache or Redis.

Each pass of `.ci/run` covers its own: the file cache in the pass without REDIS_URL, Redis in the pass
with it. So a test parametrized over both runs the file cache only when REDIS_URL is unset (the other
pass already ran it) and Redis only when it is set and answers.
"""

from __future__ import annotations

import os

import pytest
import redis

VARIANTS = ["file cache", "redis"]


def reachable_redis() -> str:
    url = os.environ.get("REDIS_URL", "")
    if not url:
        pytest.skip("REDIS_URL is not set")
    try:
        redis.Redis.from_url(url, socket_timeout=1, socket_connect_timeout=1).ping()
    except redis.RedisError:
        pytest.skip("Redis at REDIS_URL does not answer")
    return url


def cache_url(variant: str) -> str:
    """The REDIS_URL to give the gateway for ``variant`` ("" for the file cache), or a skip."""
    if variant == "redis":
        return reachable_redis()
    if os.environ.get("REDIS_URL"):
        pytest.skip("the file cache is covered by the pass without REDIS_URL")
    return ""
