"""A bad setting stops the start with a message that names the variable."""

import json
import os
import stat
import subprocess
import sys

import pytest

from imagegen.secrets_at_rest import kept_secret
from tests.gateway_process import ROOT


def start_with(**env):
    environment = {**os.environ, "DJANGO_SETTINGS_MODULE": "imagegen.settings", **env}
    return subprocess.run(
        [sys.executable, "-c", "import django; django.setup()"],
        cwd=ROOT,
        env=environment,
        capture_output=True,
        text=True,
        timeout=60,
    )


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("IMAGE_MAX_BYTES", "twenty megabytes"),
        ("IMAGE_MAX_BYTES", "-5"),
        ("UPSTREAM_CONNECT_TIMEOUT", "soon"),
        ("IMAGE_FETCH_ALLOW_PRIVATE", "maybe"),
        ("DEBUG", "sometimes"),
        ("HTTP_TRANSPORT", "carrier-pigeon"),
        ("DATABASE_URL", "not-a-database://"),
        ("ENCRYPTION_KEYS", "not-a-fernet-key"),
        ("ENCRYPTION_KEY", "tooshort"),
        ("VENDOR_QUEUE_WAIT", "-1"),
        ("VENDOR_QUEUE_WAIT", "nan"),
        ("VENDOR_QUEUE_LENGTH", "0"),
        ("IMAGE_STORAGE", "nfs"),
        ("IMAGE_STORAGE", "s3"),  # without AWS_STORAGE_BUCKET_NAME
        ("IMAGE_STORAGE_TIMEOUT", "0"),
        ("IMAGE_LINKS", "public"),  # without IMAGE_STORAGE=s3 and IMAGE_PUBLIC_BASE_URL
        ("IMAGE_LINKS", "cdn"),
        ("IMAGE_PUBLIC_BASE_URL", "https://cdn.example"),  # with local storage
    ],
)
def test_a_bad_value_stops_the_start_naming_the_variable(name, value, tmp_path):
    result = start_with(DATA_DIR=str(tmp_path), **{name: value})
    assert result.returncode != 0
    assert "ImproperlyConfigured" in result.stderr
    assert name in result.stderr.splitlines()[-1]


def test_s3_storage_starts_with_a_bucket_and_names_nothing_secret(tmp_path):
    secret = "s3-secret-never-shown-0123456789"
    s3 = {"IMAGE_STORAGE": "s3", "AWS_SECRET_ACCESS_KEY": secret, "AWS_S3_ADDRESSING_STYLE": "sideways"}
    refused = start_with(DATA_DIR=str(tmp_path), AWS_STORAGE_BUCKET_NAME="images", **s3)
    assert "AWS_S3_ADDRESSING_STYLE" in refused.stderr.splitlines()[-1]
    assert secret not in refused.stderr

    s3["AWS_S3_ADDRESSING_STYLE"] = "path"
    started = start_with(DATA_DIR=str(tmp_path), AWS_STORAGE_BUCKET_NAME="images", **s3)
    assert started.returncode == 0, started.stderr


def test_the_embedded_defaults_start_with_nothing_set(tmp_path):
    result = start_with(DATA_DIR=str(tmp_path))
    assert result.returncode == 0, result.stderr
    assert (tmp_path / ".secret_key").exists()


# Stores an image, takes a database step through the gateway's executor and writes the cache,
# then lists the mode of everything under DATA_DIR while the database is still open (SQLite
# removes its -wal and -shm files when the last connection closes).
USE_EVERY_FILE = """
import asyncio, json, os, django
django.setup()
from django.conf import settings
from django.core.cache import cache
from core.db import run_db
from proxy.services import store_image
from proxy.models import StoredImage
from tests.fakes.server import png_bytes
asyncio.run(store_image(data=png_bytes()))
asyncio.run(run_db(StoredImage.objects.count))
cache.set("rotation", 1, timeout=None)
root = settings.DATA_DIR
modes = {"": os.stat(root).st_mode}
for folder, dirs, files in os.walk(root):
    for name in dirs + files:
        path = os.path.join(folder, name)
        modes[os.path.relpath(path, root)] = os.stat(path).st_mode
print(json.dumps(modes))
"""


def embedded_defaults_in(data_dir) -> dict[str, str]:
    unset = ("DATABASE_URL", "REDIS_URL", "MEDIA_ROOT", "SECRET_KEY", "ENCRYPTION_KEYS", "ENCRYPTION_KEY")
    environment = {k: v for k, v in os.environ.items() if k not in unset}
    return {**environment, "DJANGO_SETTINGS_MODULE": "imagegen.settings", "DATA_DIR": str(data_dir)}


def run_python(env, *argv) -> str:
    result = subprocess.run([sys.executable, *argv], cwd=ROOT, env=env, capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    return result.stdout


def test_everything_the_gateway_writes_under_an_empty_data_dir_is_private_to_its_user(tmp_path):
    env = embedded_defaults_in(tmp_path / "data")
    run_python(env, "manage.py", "migrate", "--noinput")

    modes = json.loads(run_python(env, "-c", USE_EVERY_FILE).splitlines()[-1])

    expected = {"", ".secret_key", ".encryption_key", "db.sqlite3", "db.sqlite3-wal", "db.sqlite3-shm"}
    expected |= {"db.sqlite3.gateway-lock", "cache", "media", "media/images"}
    assert expected <= set(modes)
    assert any(name.startswith("media/images/") and name.endswith(".png") for name in modes)
    assert any(name.startswith("cache/") and name.endswith("cache.db") for name in modes)
    private = {name: 0o700 if stat.S_ISDIR(mode) else 0o600 for name, mode in modes.items()}
    readable_by_others = {n: oct(stat.S_IMODE(m)) for n, m in modes.items() if stat.S_IMODE(m) != private[n]}
    assert readable_by_others == {}


def test_a_data_dir_an_older_version_left_readable_is_closed_at_start(tmp_path):
    data = tmp_path / "data"
    data.mkdir(mode=0o755)
    data.chmod(0o755)
    (data / "db.sqlite3").write_bytes(b"")
    (data / "db.sqlite3").chmod(0o644)
    (data / "notes.txt").write_text("the operator's own file")
    (data / "notes.txt").chmod(0o644)

    run_python(embedded_defaults_in(data), "-c", "import django; django.setup()")

    assert stat.S_IMODE(data.stat().st_mode) == 0o700
    assert stat.S_IMODE((data / "db.sqlite3").stat().st_mode) == 0o600
    assert stat.S_IMODE((data / "notes.txt").stat().st_mode) == 0o644  # not the gateway's to change


def test_a_secret_kept_in_data_dir_is_generated_once_and_whoever_comes_second_reads_the_first(tmp_path):
    path = tmp_path / ".encryption_key"

    first = kept_secret(path, lambda: "generated-first")
    second = kept_secret(path, lambda: "generated-second")

    assert first == second == "generated-first"
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert [p.name for p in tmp_path.iterdir()] == [".encryption_key"]


def test_every_class_the_rest_framework_settings_name_exists():
    from django.conf import settings
    from django.utils.module_loading import import_string

    named = [
        value
        for setting in settings.REST_FRAMEWORK.values()
        for value in (setting if isinstance(setting, list) else [setting])
        if isinstance(value, str) and "." in value
    ]
    assert len(named) >= 6
    for dotted in named:
        assert import_string(dotted)
