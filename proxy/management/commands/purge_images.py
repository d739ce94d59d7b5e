"""Delete the files of images past their retention; their URLs then answer 410 Gone.

Run it from cron or a sidecar, e.g. hourly; it is idempotent, and two runs at once share the work.
"""

from __future__ import annotations

from django.core.management.base import BaseCommand, CommandError

from proxy.removal import expired, older_than, purge, unreleased


class Command(BaseCommand):
    help = (
        "Remove the stored images whose retention has ended: each file is deleted unless a live image holds the "
        "same bytes, and the row is kept, marked expired, so the URL answers 410 Gone and the ledger stays whole. "
        "Also finishes the file deletions of an earlier run or takedown that was cut off. Safe to run at any time "
        "and in several processes at once (cron, a sidecar)."
    )

    def add_arguments(self, parser):
        parser.add_argument("--dry-run", action="store_true", help="List what would be removed; change nothing.")
        parser.add_argument(
            "--older-than",
            type=float,
            metavar="DAYS",
            help="Instead of the expired images, remove every image stored more than DAYS ago, whatever its expiry "
            "(to apply a shortened retention to images stored before the change).",
        )
        parser.add_argument("--model", help="With --older-than: only the images this model made.")

    def handle(self, *args, dry_run=False, model=None, **options):
        older = options.get("older_than")
        if model is not None and older is None:
            raise CommandError("--model goes with --older-than.")
        if older is not None and older < 0:
            raise CommandError("--older-than takes a number of days, 0 or more.")
        rows = expired() if older is None else older_than(older, model)
        if dry_run:
            self._list(rows)
            return
        reason = "retention ended" if older is None else f"purge_images --older-than {older:g}"
        done = purge(rows, reason=reason)
        self.stdout.write(
            f"Purged {done.rows} expired image(s); deleted {done.files_deleted} file(s), "
            f"kept {done.files_kept} file(s) that live images still use."
        )
        if done.files_failed:
            raise CommandError(f"{done.files_failed} file(s) could not be deleted (see the log); run it again.")

    def _list(self, rows) -> None:
        count = 0
        listed = rows.order_by("created_at").values_list("token", "extension", "model", "created_at", "expires_at")
        for token, extension, model, created_at, expires_at in listed.iterator():
            count += 1
            until = f"expires {expires_at:%Y-%m-%d %H:%M}" if expires_at else "kept forever"
            self.stdout.write(
                f"/images/{token}.{extension}  {model or '-'}  stored {created_at:%Y-%m-%d %H:%M}, {until} (UTC)"
            )
        pending = unreleased().count()
        self.stdout.write(
            f"Would purge {count} image(s); {pending} removed image(s) still hold their file. Nothing was changed."
        )
