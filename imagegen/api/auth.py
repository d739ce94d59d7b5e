"""Client authentication for DRF: ``Authorization: Bearer <key>`` (see ``imagegen.client_keys``)."""

from __future__ import annotations

from rest_framework.authentication import BaseAuthentication
from rest_framework.exceptions import AuthenticationFailed

from imagegen.client_keys import Caller, caller_for


def bearer_token(request) -> str:
    header = request.headers.get("Authorization", "")
    scheme, _, token = header.partition(" ")
    return token.strip() if scheme.lower() == "bearer" else ""


class ClientKeyAuthentication(BaseAuthentication):
    """``request.user`` becomes the :class:`Caller`; no key leaves the request unauthenticated (DRF's
    permission check then refuses it), a key that matches nothing is refused at once."""

    async def authenticate(self, request) -> tuple[Caller, str] | None:
        token = bearer_token(request)
        if not token:
            return None
        caller = await caller_for(token)
        if caller is None:
            raise AuthenticationFailed()
        return caller, token
