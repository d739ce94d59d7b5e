"""Run the real gateway in a subprocess: a migrated database, import_env, then uvicorn (or gunicorn as
``make run`` starts it) on a free port.

It gets its own data folder and database (a new PostgreSQL database when DATABASE_URL points at
PostgreSQL, else SQLite in the data folder), each a copy of one migrated once per session
(``tests.migrated_template``), and its own cache prefix, so it never sees the test database. Used by
the end-to-end tests and by bench/.
"""

from __future__ import annotations

import os
import secrets
import shutil
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx

from tests import migrated_template

ROOT = Path(__file__).resolve().parent.parent
SEED_PREFIXES = ("FLUX_GEN_", "IMAGE_GEN_", "OPENAI_")
# What import_env reads: a gateway given none of it has nothing to import. (Its system checks are skipped: they
# import every URL and template tag, a second's CPU per start that the server's own start repeats anyway.)
IMPORTED = (*SEED_PREFIXES, "AUTHORIZED_API_KEY")


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class GatewayProcess:
    def __init__(
        self,
        data_dir: Path,
        env: dict[str, str],
        *,
        workers: int = 1,
        server: str = "uvicorn",
        cpus: set[int] | None = None,
    ):
        self.data_dir = data_dir
        self.cpus = cpus  # the cores the server may use (bench/ pins it to one); None: any
        self.extra_env = env
        self.workers = workers
        self.server = server
        self.port = free_port()
        self.process: subprocess.Popen | None = None
        self.log_path = data_dir / "gateway.log"
        self._database: str | None = None
        self._secret_key = "e2e-" + secrets.token_hex(16)
        self._cache_prefix = "e2e-" + secrets.token_hex(4)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def env(self) -> dict[str, str]:
        env = {k: v for k, v in os.environ.items() if not k.startswith(SEED_PREFIXES)}
        env.update(
            DJANGO_SETTINGS_MODULE="imagegen.settings",
            DATA_DIR=str(self.data_dir),
            SECRET_KEY=self._secret_key,
            CACHE_KEY_PREFIX=self._cache_prefix,
            PYTHONUNBUFFERED="1",
            ENV_FILE="",  # a .env in the checkout must not change the gateway under test
        )
        env.pop("MEDIA_ROOT", None)
        env.pop("PROMETHEUS_MULTIPROC_DIR", None)  # the suite's; the gateway's are in its DATA_DIR/metrics
        if self._database:
            env["DATABASE_URL"] = self._database
        env.update(self.extra_env)
        return env

    def manage(self, *args: str) -> subprocess.CompletedProcess:
        return subprocess.run(
            [sys.executable, "manage.py", *args], cwd=ROOT, env=self.env(), capture_output=True, text=True, timeout=120
        )

    def start(self) -> GatewayProcess:
        self.prepare()
        self.serve()
        return self

    def prepare(self) -> GatewayProcess:
        """The gateway's data, database and environment import, without a server (for commands alone).
        A DATABASE_URL in ``env`` is used as given; else a fresh PostgreSQL database or SQLite, as above."""
        self.data_dir.mkdir(parents=True, exist_ok=True)
        if "DATABASE_URL" in self.extra_env:
            commands = [
                ("migrate", "--noinput", "--skip-checks"),
                ("collectstatic", "--noinput", "-v0", "--skip-checks"),
            ]
        else:  # a copy of the session's migrated database, and its static files
            self._database = migrated_template.fresh_postgres_database()
            if self._database is None:
                migrated_template.fill_data_dir(self.data_dir)
            else:
                shutil.copytree(migrated_template.static_folder(), self.data_dir / "static", dirs_exist_ok=True)
            commands = []
        if any(name.startswith(IMPORTED) for name in self.env()):
            commands.append(("import_env", "--skip-checks"))
        for command in commands:
            result = self.manage(*command)
            if result.returncode != 0:
                raise RuntimeError(f"manage.py {command[0]} failed:\n{result.stdout}\n{result.stderr}")
        return self

    def restart(self) -> None:
        """Stop the server and start it again on the same data, as an operator's restart does."""
        self._terminate()
        self.serve()

    def serve(self) -> None:
        if self.server == "gunicorn":
            argv = [
                str(Path(sys.executable).parent / "gunicorn"),
                "imagegen.asgi:application",
                "--config",
                "python:imagegen.gunicorn_config",  # as make run: the gateway's worker and graceful timeout
                "--workers",
                str(self.workers),
                "--bind",
                f"127.0.0.1:{self.port}",
            ]
        else:
            argv = [sys.executable, "-m", "uvicorn", "imagegen.asgi:application", "--host", "127.0.0.1"]
            argv += ["--port", str(self.port), "--log-level", "warning"]
        self._log = open(self.log_path, "a")  # noqa: SIM115  (closed in _terminate)
        pin = (lambda: os.sched_setaffinity(0, self.cpus)) if self.cpus else None
        self.process = subprocess.Popen(
            argv, cwd=ROOT, env=self.env(), stdout=self._log, stderr=subprocess.STDOUT, preexec_fn=pin
        )
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"the gateway exited:\n{self.log_path.read_text()}")
            try:
                if httpx.get(self.url + "/health", timeout=1).status_code == 200:
                    return
            except httpx.HTTPError:
                pass
            time.sleep(0.1)
        self.stop()
        raise RuntimeError("the gateway did not become healthy in 30 s")

    def _terminate(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(15)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(5)
        if self.process is not None:
            self._log.close()
        self.process = None

    def stop(self) -> None:
        self._terminate()
        if self._database:
            migrated_template.drop_postgres_database(self._database)
            self._database = None

    def log(self) -> str:
        return self.log_path.read_text() if self.log_path.exists() else ""

    def worker_pids(self) -> list[int]:
        """gunicorn's worker processes: the master's children."""
        pid = self.process.pid
        return [int(child) for child in Path(f"/proc/{pid}/task/{pid}/children").read_text().split()]

    def running(self) -> bool:
        return self.process is not None and self.process.poll() is None

    def python(self, code: str) -> str:
        """What ``code`` prints when run by ``manage.py shell`` against the gateway's database."""
        result = self.manage("shell", "-c", code)
        if result.returncode != 0:
            raise RuntimeError(f"manage.py shell failed:\n{result.stderr}")
        return result.stdout

    def __enter__(self) -> GatewayProcess:
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()
