"""Re-encrypting every vendor key with the newest encryption key, and bringing its fingerprint up to date.

Shared by ``manage.py rotate_encryption_key`` and the migration that introduced the key list, so it
works on the fields alone (a migration's historical model has no ``secret`` property). The caller
holds the transaction.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from django.core.exceptions import ImproperlyConfigured

from core.redaction import mask
from vendors import crypto


@dataclass
class RotationReport:
    reencrypted: int = 0
    fingerprints_updated: int = 0
    unreadable: list[str] = field(default_factory=list)  # "vendor key …abcd": left as they were
    duplicates: list[str] = field(default_factory=list)  # the same secret twice for one vendor


def _name(row, vendor_names: dict[int, str]) -> str:
    return f"vendor {vendor_names.get(row.vendor_id, '?')!r} key {row.label or mask('****' + row.last4)}"


def rotate_vendor_keys(key_model, vendor_model) -> RotationReport:
    """Re-encrypt every row of ``key_model`` with the first of ENCRYPTION_KEYS; recompute fingerprints.

    A row no key can read is left as it was and named in the report. A row whose new fingerprint
    another row of its vendor already has (the same secret stored twice, which a change of
    SECRET_KEY used to cause) keeps its old fingerprint, so the unique constraint holds, and is
    named in the report for the operator to delete one of the two.
    """
    report = RotationReport()
    vendor_names = dict(vendor_model.objects.values_list("id", "name"))
    rows = list(key_model.objects.select_for_update().order_by("id"))
    taken = {(row.vendor_id, row.fingerprint) for row in rows}
    for row in rows:
        try:
            secret = crypto.decrypt(row.secret_encrypted)
        except ImproperlyConfigured:
            report.unreadable.append(_name(row, vendor_names))
            continue
        new_fingerprint = crypto.fingerprint(secret)
        if new_fingerprint != row.fingerprint:
            if (row.vendor_id, new_fingerprint) in taken:
                report.duplicates.append(_name(row, vendor_names))
            else:
                taken.add((row.vendor_id, new_fingerprint))
                row.fingerprint = new_fingerprint
                report.fingerprints_updated += 1
        row.secret_encrypted = crypto.encrypt(secret)
        key_model.objects.filter(pk=row.pk).update(secret_encrypted=row.secret_encrypted, fingerprint=row.fingerprint)
        report.reencrypted += 1
    return report
