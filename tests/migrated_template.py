"""One migrated database and one collected static folder per test session, copied for each gateway under test.

Every gateway the suite starts used to migrate a fresh database and collect its static files: two Python
starts and the whole migration history, seconds each time, dozens of times a pass. A copy of a database
migrated once is the same schema in milliseconds: a file copy on SQLite, ``CREATE DATABASE ... TEMPLATE``
on PostgreSQL. Each template is made on first use and removed when the session ends.
"""

from __future__ import annotations

import atexit
import contextlib
import functools
import os
import secrets
import shutil
import sqlite3
import subprocess
import sys
import tempfile
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

ROOT = Path(__file__).resolve().parent.parent
SQLITE_FILE = "db.sqlite3"


@functools.cache
def _folder() -> Path:
    folder = Path(tempfile.mkdtemp(prefix="imagegen-e2e-template-"))
    atexit.register(shutil.rmtree, folder, ignore_errors=True)
    return folder


def _manage(env: dict[str, str], *args: str) -> None:
    result = subprocess.run(
        [sys.executable, "manage.py", *args], cwd=ROOT, env=env, capture_output=True, text=True, timeout=300
    )
    if result.returncode != 0:
        raise RuntimeError(f"manage.py {args[0]} failed for the template:\n{result.stdout}\n{result.stderr}")


def _env(database_url: str | None) -> dict[str, str]:
    """The suite's environment (never a seed variable or a .env file) on the template's folder."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("FLUX_GEN_", "IMAGE_GEN_", "OPENAI_"))}
    env.update(DATA_DIR=str(_folder()), SECRET_KEY="template-" + secrets.token_hex(8), ENV_FILE="")
    for name in ("DATABASE_URL", "MEDIA_ROOT", "PROMETHEUS_MULTIPROC_DIR"):
        env.pop(name, None)
    if database_url:
        env["DATABASE_URL"] = database_url
    return env


@functools.cache
def _sqlite() -> Path:
    _manage(_env(None), "migrate", "--noinput")
    path = _folder() / SQLITE_FILE
    with contextlib.closing(sqlite3.connect(path)) as db:  # all of it in the one file a copy takes
        db.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    return path


@functools.cache
def static_folder() -> Path:
    """The collected static files (the admin's, the dashboard's)."""
    _manage(_env(None), "collectstatic", "--noinput", "-v0")
    return _folder() / "static"


@functools.cache
def _postgres(server_url: str) -> str:
    import psycopg

    name = "imagegen_e2e_template_" + secrets.token_hex(6)
    with psycopg.connect(_psycopg_url(server_url), autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    atexit.register(_drop, server_url, name)
    _manage(_env(_with_database(server_url, name)), "migrate", "--noinput")
    return name


def fill_data_dir(data_dir: Path) -> None:
    """Give ``data_dir`` the migrated SQLite database and the collected static files."""
    shutil.copyfile(_sqlite(), data_dir / SQLITE_FILE)
    shutil.copytree(static_folder(), data_dir / "static", dirs_exist_ok=True)


def fresh_postgres_database() -> str | None:
    """A new, migrated PostgreSQL database on DATABASE_URL's server (its URL), or None without PostgreSQL."""
    url = os.environ.get("DATABASE_URL", "")
    if not url.startswith(("postgres://", "postgresql://")):
        return None
    import psycopg

    template = _postgres(url)
    name = "imagegen_e2e_" + secrets.token_hex(6)
    with psycopg.connect(_psycopg_url(url), autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}" TEMPLATE "{template}"')
    return _with_database(url, name)


def drop_postgres_database(url: str) -> None:
    _drop(os.environ["DATABASE_URL"], urlsplit(url).path.lstrip("/"))


def _drop(server_url: str, name: str) -> None:
    import psycopg

    with psycopg.connect(_psycopg_url(server_url), autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def _with_database(url: str, name: str) -> str:
    return urlunsplit(urlsplit(url)._replace(path="/" + name))


def _psycopg_url(url: str) -> str:
    return "postgresql://" + url.split("://", 1)[1]
