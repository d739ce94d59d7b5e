"""Client authentication: ``Authorization: Bearer <key>``.

Keys are ``ClientKey`` rows (stored as SHA-256 hashes) plus the bootstrap AUTHORIZED_API_KEY.
Each worker keeps the enabled hashes in memory for ROUTING_CACHE_SECONDS, so the request path
costs no query; saving a key in this process drops the copy at once.
"""

from __future__ import annotations

import hmac
from dataclasses import dataclass

from django.conf import settings

from core.db import Snapshot
from imagegen.api.errors import ApiError
from imagegen.models import ClientKey, hash_client_key


@dataclass(frozen=True)
class Caller:
    """Who is calling: a ClientKey row, or the bootstrap key (client_key_id None)."""

    client_key_id: int | None
    label: str


BOOTSTRAP = Caller(client_key_id=None, label="AUTHORIZED_API_KEY")


def _load_keys() -> dict[str, Caller]:
    return {
        key.hashed_key: Caller(client_key_id=key.id, label=key.name)
        for key in ClientKey.objects.filter(enabled=True).only("id", "name", "hashed_key")
    }


_enabled_keys = Snapshot(_load_keys)
invalidate_client_keys = _enabled_keys.invalidate


def bearer_token(request) -> str:
    header = request.headers.get("Authorization", "")
    scheme, _, token = header.partition(" ")
    return token.strip() if scheme.lower() == "bearer" else ""


async def authenticate(request) -> Caller:
    token = bearer_token(request)
    if not token:
        raise ApiError(401, "Missing API key: send it as 'Authorization: Bearer <key>'.", code="invalid_api_key")
    bootstrap = settings.AUTHORIZED_API_KEY
    if bootstrap and hmac.compare_digest(token.encode(), bootstrap.encode()):
        return BOOTSTRAP
    # A dict lookup on the SHA-256 of the key: timing can reveal at most something about a
    # hash, never about the key, so this is as safe as comparing in constant time.
    caller = (await _enabled_keys.get()).get(hash_client_key(token))
    if caller is None:
        raise ApiError(401, "Incorrect API key provided.", code="invalid_api_key")
    return caller
