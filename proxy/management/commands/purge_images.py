"""Delete the files of images past their retention; their URLs then answer 410 Gone.

Run it from cron or a sidecar, e.g. hourly; it is idempotent, and two runs at once share the work.
"""

from __future__ import annotations

from django.core.management.base import BaseCommand, CommandError
from django.utils import timezone

from proxy.removal import expired, purge_expired, unreleased


class Command(BaseCommand):
    help = (
        "Remove the stored images whose retention has ended: each file is deleted unless a live image holds the "
        "same bytes, and the row is kept, marked expired, so the URL answers 410 Gone and the ledger stays whole. "
        "Also finishes the file deletions of an earlier run or takedown that was cut off. Safe to run at any time "
        "and in several processes at once (cron, a sidecar)."
    )

    def add_arguments(self, parser):
        parser.add_argument("--dry-run", action="store_true", help="List what would be removed; change nothing.")

    def handle(self, *args, dry_run=False, **options):
        if dry_run:
            self._list()
            return
        done = purge_expired()
        self.stdout.write(
            f"Purged {done.rows} expired image(s); deleted {done.files_deleted} file(s), "
            f"kept {done.files_kept} file(s) that live images still use."
        )
        if done.files_failed:
            raise CommandError(f"{done.files_failed} file(s) could not be deleted (see the log); run it again.")

    def _list(self) -> None:
        now = timezone.now()
        rows = expired(now).order_by("expires_at").values_list("token", "extension", "model", "expires_at")
        count = 0
        for token, extension, model, expires_at in rows.iterator():
            count += 1
            self.stdout.write(f"/images/{token}.{extension}  {model or '-'}  expired {expires_at:%Y-%m-%d %H:%M} UTC")
        pending = unreleased().count()
        self.stdout.write(
            f"Would purge {count} expired image(s); {pending} removed image(s) still hold their file. "
            "Nothing was changed."
        )
