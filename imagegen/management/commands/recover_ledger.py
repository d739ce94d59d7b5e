"""Mark the ledger rows that dead workers left pending as interrupted; safe to run at every start."""

from __future__ import annotations

from django.core.management.base import BaseCommand

from imagegen.recovery import recover_abandoned


class Command(BaseCommand):
    help = (
        "Mark as interrupted the pending ledger rows whose worker process on this host is gone, and any "
        "pending for longer than LEDGER_STALE_SECONDS (or --stale-after). `make run` runs it before serving; "
        "each gateway worker also runs it as it boots."
    )

    def add_arguments(self, parser):
        parser.add_argument(
            "--stale-after",
            type=float,
            default=None,
            help="Seconds after which a pending row of any host counts as abandoned (default: LEDGER_STALE_SECONDS).",
        )

    def handle(self, *args, stale_after=None, **options):
        recovered = recover_abandoned(stale_after)
        self.stdout.write(f"Ledger: {recovered} pending row(s) left by stopped workers marked interrupted.")
