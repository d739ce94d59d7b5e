"""The caller a staff member's playground requests run as: a ``ClientKey`` row of their own, named for
them, so the ledger records who generated what and the key's limits and budget apply as to any client."""

from __future__ import annotations

from django.db import IntegrityError, transaction

from imagegen.client_keys import Caller, caller_of
from imagegen.models import ClientKey
from playground.models import PlaygroundKey

NAME_PREFIX = "Playground: "


def key_name(user) -> str:
    return (NAME_PREFIX + user.get_username())[: ClientKey._meta.get_field("name").max_length]


def playground_key(user) -> ClientKey:
    """The user's playground key row, made on first use (its raw value is never kept, never shown)."""
    link = PlaygroundKey.objects.select_related("client_key").filter(user=user).first()
    if link is not None:
        return link.client_key
    try:
        with transaction.atomic():
            key, _unused_raw_value = ClientKey.generate(key_name(user))
            key.save()
            PlaygroundKey.objects.create(user=user, client_key=key)
            return key
    except IntegrityError:  # a concurrent first request of the same user made it
        return PlaygroundKey.objects.select_related("client_key").get(user=user).client_key


def staff_caller(user) -> tuple[Caller | None, str]:
    """(the caller, "") or (None, why the playground may not generate for this user)."""
    key = playground_key(user)
    if not key.enabled:
        return None, f"The client key '{key.name}' is disabled in admin."
    caller = caller_of(key)
    if caller.expired:
        return None, f"The client key '{key.name}' has expired."
    return caller, ""
