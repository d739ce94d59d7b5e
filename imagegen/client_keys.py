"""Finding the caller of a client key: ``ClientKey`` rows (stored as SHA-256 hashes) plus the bootstrap
AUTHORIZED_API_KEY.

Each process keeps the enabled hashes in a snapshot for ROUTING_CACHE_SECONDS, so the request path
costs no query; saving a key in this process drops the copy at once (``imagegen.signals``).
"""

from __future__ import annotations

import hmac
from dataclasses import dataclass

from django.conf import settings

from core.db import Snapshot
from imagegen.models import ClientKey, hash_client_key


@dataclass(frozen=True)
class Caller:
    """Who is calling: a ClientKey row, or the bootstrap key (client_key_id None)."""

    client_key_id: int | None
    label: str

    # DRF's IsAuthenticated reads this off request.user, which is the Caller.
    is_authenticated = True


BOOTSTRAP = Caller(client_key_id=None, label="AUTHORIZED_API_KEY")


def _load_keys() -> dict[str, Caller]:
    return {
        key.hashed_key: Caller(client_key_id=key.id, label=key.name)
        for key in ClientKey.objects.filter(enabled=True).only("id", "name", "hashed_key")
    }


_enabled_keys = Snapshot(_load_keys)
invalidate_client_keys = _enabled_keys.invalidate


async def caller_for(token: str) -> Caller | None:
    """The caller a client key belongs to, or None when no enabled key matches."""
    bootstrap = settings.AUTHORIZED_API_KEY
    if bootstrap and hmac.compare_digest(token.encode(), bootstrap.encode()):
        return BOOTSTRAP
    # A dict lookup on the SHA-256 of the key: timing can reveal at most something about a
    # hash, never about the key, so this is as safe as comparing in constant time.
    return (await _enabled_keys.get()).get(hash_client_key(token))
