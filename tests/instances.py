"""Two gateway instances, as two hosts behind one load balancer would run them: separate processes on
separate ports that share one database, one cache, one media store and one set of secrets.

    with GatewayPair(tmp_path, env) as pair:       # migrate + import_env once, then two servers
        httpx.post(pair.first.url + "/v1/...")     # instance 1
        httpx.post(pair.second.url + "/v1/...")    # instance 2

What they share follows the environment of the test run:

- the database: a fresh PostgreSQL database when DATABASE_URL points at PostgreSQL, else one SQLite file;
- the cache: Redis at REDIS_URL when it is set, else the embedded file cache. That cache lives in
  DATA_DIR/cache and has no setting of its own, so without Redis both instances run on one DATA_DIR
  (two gateways on one machine); with Redis each has its own DATA_DIR, as on two hosts;
- images: one MEDIA_ROOT folder (the stand-in for a shared volume), unless ``env`` names other storage;
- SECRET_KEY, ENCRYPTION_KEYS and CACHE_KEY_PREFIX: the same values, so both decrypt the same vendor
  keys and read the same cache entries.

Each instance keeps its own log file and its own metrics folder. ``stop`` stops both and drops the database.
"""

from __future__ import annotations

import os
import secrets
from pathlib import Path

from cryptography.fernet import Fernet

from tests import migrated_template
from tests.gateway_process import GatewayProcess


class GatewayPair:
    def __init__(self, root: Path, env: dict[str, str], *, workers: int = 1, server: str = "uvicorn"):
        self.root = root
        self.redis_url = env.get("REDIS_URL", os.environ.get("REDIS_URL", ""))
        self._own_database: str | None = None
        shared = {
            "SECRET_KEY": "pair-" + secrets.token_hex(16),
            "ENCRYPTION_KEYS": Fernet.generate_key().decode(),
            "CACHE_KEY_PREFIX": "pair-" + secrets.token_hex(4),
            "MEDIA_ROOT": str(root / "media"),
            "REDIS_URL": self.redis_url,
            **env,
        }
        self.instances = [self._instance(number, shared, workers, server) for number in (1, 2)]

    @property
    def first(self) -> GatewayProcess:
        return self.instances[0]

    @property
    def second(self) -> GatewayProcess:
        return self.instances[1]

    @property
    def shares_data_dir(self) -> bool:
        """Without Redis the file cache under DATA_DIR is what they share, so they share DATA_DIR."""
        return not self.redis_url

    def _instance(self, number: int, shared: dict[str, str], workers: int, server: str) -> GatewayProcess:
        data_dir = self.root / ("shared" if self.shares_data_dir else f"instance-{number}")
        own = {"PROMETHEUS_MULTIPROC_DIR": str(self.root / f"metrics-{number}")}
        process = GatewayProcess(data_dir, {**shared, **own}, workers=workers, server=server)
        process.log_path = self.root / f"gateway-{number}.log"
        return process

    def start(self) -> GatewayPair:
        self.prepare()
        self.serve()
        return self

    def prepare(self) -> GatewayPair:
        """The shared database, migrated, with the environment imported once for both; no server yet."""
        database = self.first.extra_env.get("DATABASE_URL")
        if database is None:
            self._own_database = migrated_template.fresh_postgres_database()
            if self._own_database is None:
                migrated_template.copy_sqlite(self.root / "shared-db.sqlite3")
            database = self._own_database or f"sqlite:///{self.root / 'shared-db.sqlite3'}"
            for instance in self.instances:
                instance.extra_env["DATABASE_URL"] = database
        try:
            self.first.prepare()
            self.second.data_dir.mkdir(parents=True, exist_ok=True)
        except BaseException:
            self.stop()
            raise
        return self

    def serve(self) -> GatewayPair:
        """Both servers, each on its own port."""
        try:
            for instance in self.instances:
                if not instance.running():
                    instance.serve()
        except BaseException:
            self.stop()
            raise
        return self

    def stop(self) -> None:
        for instance in self.instances:
            instance.stop()
        if self._own_database:
            migrated_template.drop_postgres_database(self._own_database)
            self._own_database = None

    def logs(self) -> str:
        return "".join(instance.log() for instance in self.instances)

    def python(self, code: str) -> str:
        """What ``code`` prints when run by ``manage.py shell`` against the shared database."""
        return self.first.python(code)

    def __enter__(self) -> GatewayPair:
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()
