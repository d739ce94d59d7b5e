"""Checking keys for free, and healing: an auto-disabled key whose probe passes goes back into rotation.

``probe_keys`` runs each key's free probe (``vendors.adapters.probing``: a models list, an account or a
balance, never an image), all at once within ``PROBE_CONCURRENCY``, from synchronous code (the admin,
``manage.py probe_keys``). ``restore_key`` is the one place a passing probe changes a key's state.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Iterable
from dataclasses import dataclass

from django.core.exceptions import ImproperlyConfigured

from core.http import close_client, get_client
from vendors import key_state
from vendors.adapters import adapter_class
from vendors.adapters.base import VendorTarget
from vendors.adapters.probing import ProbeAnswer, probe
from vendors.models import VendorKey

log = logging.getLogger(__name__)

PROBE_CONCURRENCY = 8  # probes in flight at once: free, but a vendor still counts them against its rate limit


@dataclass(frozen=True)
class KeyProbe:
    """One key's probe, and whether it put the key back into rotation."""

    key: VendorKey
    answer: ProbeAnswer
    restored: bool = False

    def line(self) -> str:
        """The outcome in one line for people: the key masked, the verdict, the latency, the answer."""
        answer = self.answer
        took = f" in {answer.latency * 1000:.0f} ms" if answer.latency else ""
        status = f" (HTTP {answer.status})" if answer.status else ""
        restored = "; back in rotation" if self.restored else ""
        return f"{self.key}: {answer.verdict}{took}{status}: {answer.summary}{restored}"


def probe_keys(keys: Iterable[VendorKey], *, heal: bool = True) -> list[KeyProbe]:
    """Probe each key (vendor rows joined); with ``heal``, restore each auto-disabled one that passed."""
    keys = list(keys)
    answers = asyncio.run(_probe_all(keys)) if keys else []
    results = []
    for key, answer in zip(keys, answers, strict=True):
        restored = heal and answer.passed is True and restore_key(key.id, f"its probe passed: {answer.summary}")
        if restored:
            key.refresh_from_db()
        results.append(KeyProbe(key, answer, restored))
    return results


def restore_key(key_id: int, reason: str) -> bool:
    """Put an auto-disabled key back into rotation (its failure count cleared, its rests ended, the change
    recorded in its history); False when it is not auto-disabled. The operator's own switch is left as it is."""
    key = VendorKey.objects.filter(pk=key_id, status=VendorKey.Status.AUTO_DISABLED).first()
    if key is None:
        return False
    key_state.reinstate(key, reason)
    log.info("vendor key %s is back in rotation: %s", key_id, reason)
    return True


async def _probe_all(keys: list[VendorKey]) -> list[ProbeAnswer]:
    room = asyncio.Semaphore(PROBE_CONCURRENCY)

    async def one(key: VendorKey) -> ProbeAnswer:
        async with room:
            return await _probe_one(key)

    try:
        return await asyncio.gather(*(one(key) for key in keys))
    finally:
        await close_client()


async def _probe_one(key: VendorKey) -> ProbeAnswer:
    vendor = key.vendor
    try:
        secret = key.secret
    except ImproperlyConfigured as exc:
        return ProbeAnswer(None, f"the key cannot be read: {exc}")
    target = VendorTarget(name=vendor.name, base_url=vendor.base_url, timeout=vendor.timeout)
    adapter = adapter_class(vendor.kind)(target)
    return await probe(adapter, get_client(), secret)
