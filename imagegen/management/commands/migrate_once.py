"""``migrate``, one instance at a time: safe when several containers start together on one database.

``--then`` runs more start-up commands under the same lock: ``import_env`` and ``ensure_superuser`` read
then write shared rows, and two instances doing that at once would both try to create the same row.
"""

from __future__ import annotations

from django.core.management import call_command
from django.core.management.base import BaseCommand, CommandError

from imagegen.migration_lock import LockTimeout, migration_lock


class Command(BaseCommand):
    help = (
        "Apply migrations while holding a lock every instance sharing the database sees (PostgreSQL: an "
        "advisory lock; SQLite: an flock on DATA_DIR/migrate.lock). An instance that finds the lock taken "
        "waits, then migrates what is left: usually nothing. The container's entrypoint runs it at each start."
    )

    def add_arguments(self, parser):
        parser.add_argument(
            "--wait",
            type=float,
            default=600.0,
            help="Seconds to wait for another instance's migrations before failing (default: 600).",
        )
        parser.add_argument(
            "--then",
            action="append",
            default=[],
            metavar="COMMAND",
            help="A management command (no arguments) to run after migrate, still holding the lock; repeatable.",
        )

    def handle(self, *args, wait: float, then: list[str], verbosity: int = 1, **options):
        def waiting() -> None:
            self.stdout.write("Another instance is migrating; waiting for it to finish.")
            self.stdout.flush()

        try:
            with migration_lock(wait, waiting):
                call_command("migrate", interactive=False, verbosity=verbosity, stdout=self.stdout)
                for command in then:
                    call_command(command, verbosity=verbosity, stdout=self.stdout)
        except LockTimeout as exc:
            raise CommandError(f"Migrations not applied: {exc}.") from exc
