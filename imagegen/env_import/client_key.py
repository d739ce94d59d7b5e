"""AUTHORIZED_API_KEY as a ``ClientKey`` row, "AUTHORIZED_API_KEY (env)", stored hashed like any client key.

The environment seeds, the admin decides: the import creates the row, and a new value of the variable
rotates the row's hash; its name, limits and enabled flag belong to admin and are never written here.
A row deleted in admin stays deleted while the value is unchanged. When the variable is no longer set,
the row is disabled (before it was a row, unsetting the variable revoked the key); set again, the
variable takes the row back and enables it again if the import was what disabled it. The memory (an
``EnvImport`` row) keeps the key's hash, never the key.
"""

from __future__ import annotations

from imagegen.env_import.memory import ImportMemory
from imagegen.models import ClientKey, hash_client_key

TARGET = "client_key:AUTHORIZED_API_KEY"
NAME = "AUTHORIZED_API_KEY (env)"


def apply_client_key(raw: str, memory: ImportMemory) -> tuple[bool, list[str]]:
    """Brings the row in line with AUTHORIZED_API_KEY; whether anything changed, and what to say."""
    last = memory.records.get(TARGET)
    if not raw:
        return _unset(last, memory)
    new_hash = hash_client_key(raw)
    if last is not None and last.get("hash") == new_hash and not last.get("unset"):
        row = ClientKey.objects.filter(hashed_key=new_hash).first()
        if row is None:
            return False, ["AUTHORIZED_API_KEY: its client key was deleted in admin; left deleted."]
        return False, [f"AUTHORIZED_API_KEY: client key {row.name!r} unchanged."]
    row = ClientKey.objects.filter(hashed_key=new_hash).first()  # a row from an earlier import, forgotten
    rotated = row is None and last is not None
    if rotated:
        row = ClientKey.objects.filter(hashed_key=last.get("hash")).first()
    created = row is None
    row = row or ClientKey(name=NAME)
    row.set_raw(raw)
    if last is not None and last.get("disabled_by_import"):
        row.enabled = True
    row.save()
    memory.remember(TARGET, {"hash": new_hash})
    if created:
        return True, [f"AUTHORIZED_API_KEY: client key {row.name!r} created ({row.masked})."]
    verb = "rotated to the new value" if rotated else "taken over"
    return True, [f"AUTHORIZED_API_KEY: client key {row.name!r} {verb} ({row.masked})."]


def _unset(last: dict | None, memory: ImportMemory) -> tuple[bool, list[str]]:
    if last is None or last.get("unset"):
        return False, []
    disabled = ClientKey.objects.filter(hashed_key=last.get("hash"), enabled=True)
    names = list(disabled.values_list("name", flat=True))
    disabled.update(enabled=False)
    memory.remember(TARGET, {"hash": last.get("hash"), "unset": True, "disabled_by_import": bool(names)})
    if not names:
        return True, ["AUTHORIZED_API_KEY is no longer set."]
    return True, [f"AUTHORIZED_API_KEY is no longer set: client key {names[0]!r} disabled."]
