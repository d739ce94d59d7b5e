"""Client authentication for DRF: ``Authorization: Bearer <key>`` (see ``imagegen.client_keys``),
with wrong and missing keys throttled per client address (``imagegen.api.throttle``)."""

from __future__ import annotations

from rest_framework.authentication import BaseAuthentication
from rest_framework.exceptions import AuthenticationFailed

from core.db import run_cache
from imagegen.api import throttle
from imagegen.api.errors import ExpiredApiKey, TooManyFailedAttempts
from imagegen.client_keys import Caller, caller_for, note_used
from imagegen.models import hash_client_key


def bearer_token(request) -> str:
    header = request.headers.get("Authorization", "")
    scheme, _, token = header.partition(" ")
    return token.strip() if scheme.lower() == "bearer" else ""


class ClientKeyAuthentication(BaseAuthentication):
    """``request.user`` becomes the :class:`Caller`; no key leaves the request unauthenticated (DRF's
    permission check then refuses it), a key that matches nothing is refused at once, an expired key
    too, saying so. Each counts as a failed attempt of the client's address, which may be refused
    with 429 instead."""

    async def authenticate(self, request) -> tuple[Caller, str] | None:
        token = bearer_token(request)
        caller = await caller_for(token) if token else None
        expired = caller is not None and caller.expired
        caller = None if expired else caller
        address = throttle.client_address(request)
        key_hash = hash_client_key(token) if token else ""
        if caller is None or not throttle.worked_lately(address, key_hash):
            verdict = await run_cache(throttle.judge, address, key_hash, caller is not None)
            if verdict:
                raise TooManyFailedAttempts(retry_after=verdict)
        if expired:
            raise ExpiredApiKey()
        if caller is None and token:
            raise AuthenticationFailed()
        if caller is not None:
            await note_used(caller)
        return None if caller is None else (caller, token)
