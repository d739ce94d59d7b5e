"""The optimizer's rewrites, kept in the shared cache: an idea rewritten before costs no LLM call.

A rewrite is found again by a hash of everything that shapes it: the idea, the mode, the optimizer's
vendor and model, the request sent to it (its instructions, so the word limit and any change of them,
and its token limit), the style preset with the version of its content (an edited preset is a new key;
no preset: an empty slot) and the input images' SHA-256s. The raw text is never a key.
Only real rewrites are kept, never a fallback to the user's own words. OPTIMIZER_CACHE_SECONDS (0:
off) is how long one is kept; Django's cache shares it between every worker and every instance. A
cache that fails is a miss (or a rewrite not kept), never a failed request.
"""

from __future__ import annotations

import hashlib
import json
import logging

from django.conf import settings
from django.core.cache import cache

from core import metrics
from core.db import run_cache
from vendors.adapters.base import ChatRequest

log = logging.getLogger(__name__)

PREFIX = "optimizer:rewrite:v1:"


def cache_key(
    idea: str, mode: str, vendor_id: int | None, request: ChatRequest, style: str = "", inputs: list[str] = ()
) -> str:
    parts = [idea, mode, vendor_id, request.model, request.system, request.max_tokens, request.temperature, style]
    if inputs:  # the input images' SHA-256s; absent, the key is the one it always was
        parts.append(list(inputs))
    digest = hashlib.sha256(json.dumps(parts, ensure_ascii=False).encode()).hexdigest()
    return PREFIX + digest


def enabled() -> bool:
    return settings.OPTIMIZER_CACHE_SECONDS > 0


async def cached_rewrite(key: str) -> str | None:
    """The rewrite kept under ``key``; None when there is none, the cache is off, or the cache failed."""
    if not enabled():
        return None
    try:
        value = await run_cache(cache.get, key)
    except Exception:  # a cache is a saving, never a reason to fail
        log.warning("the optimizer cache could not be read; asking the optimizer", exc_info=True)
        value = None
    hit = isinstance(value, str) and bool(value)
    metrics.cache_lookup("optimizer", hit)
    return value if hit else None


async def keep_rewrite(key: str, prompt: str) -> None:
    if not enabled() or not prompt:
        return
    try:
        await run_cache(cache.set, key, prompt, settings.OPTIMIZER_CACHE_SECONDS)
    except Exception:
        log.warning("the optimizer cache could not be written; the rewrite is not kept", exc_info=True)
