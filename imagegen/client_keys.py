"""Finding the caller of a client key: ``ClientKey`` rows, stored as SHA-256 hashes. The environment's
AUTHORIZED_API_KEY is one of them, imported by ``manage.py import_env`` (``imagegen.env_import.client_key``).

Each process keeps the enabled keys, with their limits, in a snapshot for ROUTING_CACHE_SECONDS, so
the request path costs no query; saving a key in this process drops the copy at once
(``imagegen.signals``). The limits are enforced by ``imagegen.client_limits``.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal

from django.core.cache import cache
from django.utils import timezone

from core.db import Snapshot, run_cache, run_db
from core.state import process_state
from imagegen.models import ClientKey, hash_client_key, model_names


@dataclass(frozen=True)
class Caller:
    """Who is calling (a ClientKey row) and what it may do; None in a limit means unlimited."""

    client_key_id: int | None
    label: str
    allowed_models: frozenset[str] = frozenset()  # empty: every model
    requests_per_minute: int | None = None
    max_in_flight: int | None = None
    images_per_day: int | None = None
    expires_at: datetime | None = None
    monthly_budget: Decimal | None = None  # in PRICE_CURRENCY

    # DRF's IsAuthenticated reads this off request.user, which is the Caller.
    is_authenticated = True

    def allows(self, model: str) -> bool:
        return not self.allowed_models or model in self.allowed_models

    @property
    def expired(self) -> bool:
        return self.expires_at is not None and self.expires_at <= timezone.now()


FIELDS = ("id", "name", "hashed_key", "allowed_models", "requests_per_minute", "max_in_flight")
FIELDS += ("images_per_day", "expires_at", "monthly_budget")


def caller_of(key: ClientKey) -> Caller:
    return Caller(
        client_key_id=key.id,
        label=key.name,
        allowed_models=frozenset(model_names(key.allowed_models)),
        requests_per_minute=key.requests_per_minute,
        max_in_flight=key.max_in_flight,
        images_per_day=key.images_per_day,
        expires_at=key.expires_at,
        monthly_budget=key.monthly_budget,
    )


def _load_keys() -> dict[str, Caller]:
    return {key.hashed_key: caller_of(key) for key in ClientKey.objects.filter(enabled=True).only(*FIELDS)}


_enabled_keys = Snapshot(_load_keys)
invalidate_client_keys = _enabled_keys.invalidate

# ``last_used_at`` is written at most once per key in this many seconds, by whichever worker comes first.
LAST_USED_EVERY = 10.0


@dataclass
class UseNotes:
    """This process's notes: client key id -> monotonic time it last took its turn to write last_used_at."""

    noted: dict[int, float] = field(default_factory=dict)


def _claim_last_used_write(key_id: int) -> bool:
    return cache.add(f"clientkey:{key_id}:last_used", 1, timeout=LAST_USED_EVERY)


async def note_used(caller: Caller) -> None:
    """Writes the key's ``last_used_at`` if nobody did in the last LAST_USED_EVERY seconds. Most calls
    cost nothing: this process asks the shared cache about a key once per LAST_USED_EVERY."""
    notes = process_state().slot(UseNotes).noted
    now = time.monotonic()
    if caller.client_key_id is None or now - notes.get(caller.client_key_id, -LAST_USED_EVERY) < LAST_USED_EVERY:
        return
    notes[caller.client_key_id] = now
    if await run_cache(_claim_last_used_write, caller.client_key_id):
        await run_db(ClientKey.objects.filter(pk=caller.client_key_id).update, last_used_at=timezone.now())


async def caller_for(token: str) -> Caller | None:
    """The caller an enabled client key belongs to (expired or not), or None when none matches."""
    # A dict lookup on the SHA-256 of the key: timing can reveal at most something about a
    # hash, never about the key, so this is as safe as comparing in constant time.
    return (await _enabled_keys.get()).get(hash_client_key(token))
