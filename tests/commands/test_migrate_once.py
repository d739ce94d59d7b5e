"""`manage.py migrate_once`: several instances starting together on one database (SQLite, and
PostgreSQL when DATABASE_URL points at it) migrate it exactly once, and none fails.

Plain `migrate` started twice at once fails most of the time ("relation ... already exists", a
duplicate key in pg_type): both plan the same migrations. That race cannot be shown without a flaky
test, so the lock it lacks is shown instead: while another holder has it, migrate_once applies nothing.
"""

from __future__ import annotations

import fcntl
import os
import secrets
import select
import sqlite3
import subprocess
import sys
import time
from urllib.parse import urlsplit, urlunsplit

import pytest

from imagegen.migration_lock import ADVISORY_LOCK_ID, LOCK_FILE_NAME
from tests.gateway_process import ROOT, SEED_PREFIXES
from tests.migrated_template import drop_postgres_database

pytestmark = pytest.mark.e2e
WAITING = "Another instance is migrating; waiting for it to finish."


class Database:
    """A fresh, empty database and the data folder of the instances that share it."""

    def __init__(self, kind: str, data_dir):
        self.kind, self.data_dir = kind, data_dir
        data_dir.mkdir()
        self.url = f"sqlite:///{data_dir / 'db.sqlite3'}" if kind == "sqlite" else _empty_postgres_database()

    def env(self) -> dict[str, str]:
        env = {k: v for k, v in os.environ.items() if not k.startswith(SEED_PREFIXES)}
        env.update(ENV_FILE="", DATA_DIR=str(self.data_dir), DATABASE_URL=self.url, PYTHONUNBUFFERED="1")
        env.update(DJANGO_SUPERUSER_USERNAME="operator", DJANGO_SUPERUSER_PASSWORD="a long enough password")
        return env

    def start(self, *args: str) -> subprocess.Popen:
        return subprocess.Popen(
            [sys.executable, "manage.py", *args], cwd=ROOT, env=self.env(), stdout=subprocess.PIPE, text=True
        )

    def run(self, *args: str) -> subprocess.CompletedProcess:
        return subprocess.run(
            [sys.executable, "manage.py", *args], cwd=ROOT, env=self.env(), capture_output=True, text=True, timeout=120
        )

    def has_migrations_table(self) -> bool:
        if self.kind == "sqlite":
            with sqlite3.connect(self.data_dir / "db.sqlite3") as conn:
                query = "SELECT count(*) FROM sqlite_master WHERE name = 'django_migrations'"
                return conn.execute(query).fetchone()[0] == 1
        import psycopg

        with psycopg.connect(_psycopg_url(self.url)) as conn:
            return conn.execute("SELECT to_regclass('django_migrations') IS NOT NULL").fetchone()[0]

    def hold_lock(self):
        """Take the lock as another instance would; closing what this returns releases it."""
        if self.kind == "sqlite":
            lock_file = open(self.data_dir / LOCK_FILE_NAME, "a+b")  # noqa: SIM115  (closed by the test)
            fcntl.flock(lock_file, fcntl.LOCK_EX)
            return lock_file
        import psycopg

        conn = psycopg.connect(_psycopg_url(self.url), autocommit=True)
        conn.execute("SELECT pg_advisory_lock(%s)", [ADVISORY_LOCK_ID])
        return conn


@pytest.fixture(params=["sqlite", "postgresql"])
def database(request, tmp_path):
    on_postgres = os.environ.get("DATABASE_URL", "").startswith(("postgres://", "postgresql://"))
    if request.param == "postgresql" and not on_postgres:
        pytest.skip("DATABASE_URL does not point at PostgreSQL")
    database = Database(request.param, tmp_path / "data")
    yield database
    if request.param == "postgresql":
        drop_postgres_database(database.url)


def test_two_instances_starting_at_once_both_succeed_and_the_schema_and_admin_are_made_once(database):
    runs = [database.start("migrate_once", "--then", "ensure_superuser") for _ in range(2)]
    outputs = [run.communicate(timeout=300)[0] for run in runs]

    assert [run.returncode for run in runs] == [0, 0], outputs
    applied = ["Applying contenttypes.0001_initial" in output for output in outputs]
    assert sorted(applied) == [False, True], outputs  # exactly one of them created the schema
    created = ["Superuser 'operator' created." in output for output in outputs]
    assert sorted(created) == [False, True], outputs  # and the admin user; the other found it
    check = database.run("migrate", "--check")
    assert check.returncode == 0, check.stdout + check.stderr
    again = database.run("migrate_once")
    assert again.returncode == 0 and "No migrations to apply." in again.stdout


def test_an_instance_applies_nothing_while_another_holds_the_lock_then_finds_the_rest(database):
    holder = database.hold_lock()
    try:
        waiting = database.start("migrate_once")
        assert _first_line(waiting) == WAITING
        assert waiting.poll() is None
        assert not database.has_migrations_table()
    finally:
        holder.close()
    output = waiting.communicate(timeout=300)[0]
    assert waiting.returncode == 0, output
    assert "Applying contenttypes.0001_initial" in output
    assert database.run("migrate", "--check").returncode == 0


def test_an_instance_that_waits_past_its_limit_fails_and_applies_nothing(database):
    holder = database.hold_lock()
    try:
        result = database.run("migrate_once", "--wait", "1")
    finally:
        holder.close()
    assert result.returncode == 1
    assert "Migrations not applied: another instance held the migration lock for more than 1 s." in result.stderr
    assert not database.has_migrations_table()


def _empty_postgres_database() -> str:
    """A new database with nothing in it (not the suite's migrated template) on DATABASE_URL's server."""
    import psycopg

    server = urlsplit(os.environ["DATABASE_URL"])
    name = "imagegen_migrate_once_" + secrets.token_hex(6)
    with psycopg.connect(_psycopg_url(os.environ["DATABASE_URL"]), autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    return urlunsplit(server._replace(path="/" + name))


def _psycopg_url(url: str) -> str:
    return "postgresql://" + url.split("://", 1)[1]


def _first_line(process: subprocess.Popen) -> str:
    """The process's first line of output, read with a deadline so a silent process fails the test."""
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        ready, _, _ = select.select([process.stdout], [], [], 1)
        if ready:
            return process.stdout.readline().rstrip("\n")
    process.kill()
    raise AssertionError("migrate_once printed nothing in 60 s")
