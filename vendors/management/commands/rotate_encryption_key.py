"""Re-encrypt every vendor key with the first of ENCRYPTION_KEYS, in one transaction."""

from __future__ import annotations

from django.core.management.base import BaseCommand, CommandError
from django.db import transaction

from vendors.key_rotation import RotationReport, rotate_vendor_keys
from vendors.models import Vendor, VendorKey


class Command(BaseCommand):
    help = (
        "Re-encrypt every vendor key with the first key of ENCRYPTION_KEYS and bring fingerprints up to date, "
        "in one transaction. Run it with the new key first and the old ones after it (ENCRYPTION_KEYS=new,old); "
        "afterwards the old keys can be dropped from the list. A key that no listed key can read stops it, "
        "writing nothing, unless --skip-unreadable."
    )

    def add_arguments(self, parser):
        parser.add_argument("--dry-run", action="store_true", help="Report what would change and write nothing.")
        parser.add_argument(
            "--skip-unreadable",
            action="store_true",
            help="Re-encrypt the readable keys and leave the unreadable ones as they are.",
        )

    def handle(self, *args, dry_run=False, skip_unreadable=False, **options):
        with transaction.atomic():
            report = rotate_vendor_keys(VendorKey, Vendor)
            if report.unreadable and not skip_unreadable:
                raise CommandError(
                    f"{self._unreadable(report)}. Add the key they were written with to the end of the list, or "
                    "pass --skip-unreadable to leave them as they are. Nothing was written."
                )
            if dry_run:
                transaction.set_rollback(True)
        self.stdout.write(self._summary(report, dry_run))

    def _unreadable(self, report: RotationReport) -> str:
        return (
            f"{len(report.unreadable)} vendor key(s) cannot be decrypted with any key in ENCRYPTION_KEYS: "
            f"{', '.join(report.unreadable)}"
        )

    def _summary(self, report: RotationReport, dry_run: bool) -> str:
        verb = "Would re-encrypt" if dry_run else "Re-encrypted"
        lines = [
            f"{verb} {report.reencrypted} vendor key(s) with the first key of ENCRYPTION_KEYS; "
            f"{report.fingerprints_updated} fingerprint(s) updated."
        ]
        if report.unreadable:
            lines.append(f"{self._unreadable(report)}; left as they are.")
        if report.duplicates:
            lines.append(
                f"Stored twice for the same vendor (delete one of each in admin): {', '.join(report.duplicates)}."
            )
        return "\n".join(lines)
