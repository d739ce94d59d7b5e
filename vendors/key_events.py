"""What the key loop tells the rest of the gateway: a key was auto-disabled.

``vendors`` imports no app above it, so it announces the event as a Django signal and whoever cares
(the alerts, in ``imagegen.alert_checks``) listens. :func:`key_auto_disabled` is the one place the key
loop calls when it takes a key out of rotation for good; receivers must not block (they queue work).
"""

from __future__ import annotations

import logging

from django.dispatch import Signal

from core.redaction import client_text

log = logging.getLogger(__name__)

# Sent with vendor_id, vendor_name, key_id, key_label and reason (plain words: no secret, URL or host).
auto_disabled = Signal()


def key_auto_disabled(vendor_id: int, vendor_name: str, key_id: int, key_label: str, code: str, message: str) -> None:
    """Announce that a key was auto-disabled; a failing receiver is logged, never the caller's problem."""
    reason = client_text(f"{code}: {message}", limit=300)
    for _receiver, result in auto_disabled.send_robust(
        sender=key_auto_disabled,
        vendor_id=vendor_id,
        vendor_name=vendor_name,
        key_id=key_id,
        key_label=key_label,
        reason=reason,
    ):
        if isinstance(result, Exception):
            log.warning("a receiver of key_auto_disabled failed: %s", type(result).__name__)
