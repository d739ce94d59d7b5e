"""Writing a key's verdict to its row, and recording every change of its state.

One write per change of state, not per call: a failure already updates its row (count, last error), and
a change of verdict rides on that write, with a ``KeyStateChange`` row beside it; a success writes only
when it ends a suspicion or a rest. The end of a rest is recorded with the key's next call (until then
the admin reads the rest's end from ``cooling_until``). The operator's switch is recorded by
``vendors.signals`` through :func:`record_switch`; a reset (the admin's action, or a passing probe)
goes through :func:`reinstate`.
"""

from __future__ import annotations

from datetime import datetime

from django.core.cache import cache
from django.db import transaction
from django.db.models import F
from django.utils import timezone

from vendors import errors
from vendors.key_evidence import Verdict, all_entries
from vendors.key_models import OPERATOR_OFF, KeyStateChange, VendorKey
from vendors.selectors import invalidate_routing_table

Status = VendorKey.Status


def _move(row: VendorKey, to: str, reason: str, now: datetime, until: datetime | None = None) -> dict:
    """Record ``row``'s change to verdict ``to``; the row's fields that change with it."""
    was = row.status
    if was == Status.COOLING and row.cooling_until and row.cooling_until <= now and to != Status.COOLING:
        reason = f"its rest ended at {timezone.localtime(row.cooling_until):%H:%M}; {reason}"
    KeyStateChange.objects.create(key_id=row.pk, at=now, from_state=was, to_state=to, reason=reason[:2000])
    return {"status": to, "status_reason": reason[:2000], "status_changed_at": now, "cooling_until": until}


def _follows(row: VendorKey, verdict: Verdict, now: datetime) -> bool:
    """Whether a failure's verdict changes the row's: a disabled key waits for a reset, a resting key is not
    made merely suspect, and a suspect key stays so."""
    current = row.verdict_now(now)
    if current == Status.AUTO_DISABLED:
        return False
    if verdict.state in (Status.AUTO_DISABLED, Status.COOLING):
        return True
    return current == Status.ACTIVE


def record_failure(key_id: int, exc: errors.UpstreamError, verdict: Verdict) -> str | None:
    """Count a failure on the key's row, with its new verdict when it changes; the row's verdict after."""
    now = timezone.now()
    with transaction.atomic():
        row = VendorKey.objects.select_for_update().filter(pk=key_id).first()
        if row is None:
            return None
        changes = {
            "failure_count": F("failure_count") + 1,
            "last_error": f"{exc.code}: {exc.detail}"[:1000],
            "last_failed_at": now,
            "last_used_at": now,
        }
        state = row.status
        if _follows(row, verdict, now):
            changes.update(_move(row, verdict.state, verdict.reason, now, verdict.until))
            state = verdict.state
        VendorKey.objects.filter(pk=key_id).update(**changes)
    return state


def record_recovery(key_id: int, to: str) -> str | None:
    """After a success: the key is ``to`` (active, or still suspect) unless another call rested or disabled it
    meanwhile. The row's verdict after."""
    now = timezone.now()
    with transaction.atomic():
        row = VendorKey.objects.select_for_update().filter(pk=key_id).first()
        if row is None:
            return None
        current = row.verdict_now(now)
        if current in (Status.AUTO_DISABLED, Status.COOLING) or row.status == to:
            return row.status
        reason = "a failure is still among its last calls" if to == Status.SUSPECT else "no failure in its last calls"
        changes = _move(row, to, reason, now)
        changes["last_used_at"] = now
        VendorKey.objects.filter(pk=key_id).update(**changes)
    return to


def reinstate(key: VendorKey, reason: str) -> None:
    """Put a key back into rotation, active with its failure count cleared (a reset, a passing probe)."""
    now = timezone.now()
    with transaction.atomic():
        row = VendorKey.objects.select_for_update().get(pk=key.pk)
        changes = {"failure_count": 0}
        if row.status != Status.ACTIVE:
            changes.update(_move(row, Status.ACTIVE, reason, now))
        VendorKey.objects.filter(pk=key.pk).update(**changes)
    for name, value in changes.items():
        setattr(key, name, value)
    cache.delete_many(all_entries(key.pk))
    invalidate_routing_table()


def record_switch(key: VendorKey, was_enabled: bool) -> None:
    """Record the operator switching a key off or on (the verdict stays as it was)."""
    if key.enabled == was_enabled:
        return
    verdict = key.verdict_now()
    was, now = (verdict, OPERATOR_OFF) if was_enabled else (OPERATOR_OFF, verdict)
    reason = "switched off by the operator" if was_enabled else "switched on by the operator"
    KeyStateChange.objects.create(key=key, from_state=was, to_state=now, reason=reason)
