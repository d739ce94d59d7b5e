"""Two `manage.py purge_images` processes at once, on the same database and media folder (SQLite, and
PostgreSQL when DATABASE_URL points at it): neither fails, each expired row is removed by exactly one
of them, every file only expired rows named is gone, and files that live rows share are kept."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys

import pytest

from tests.gateway_process import ROOT, GatewayProcess

pytestmark = pytest.mark.e2e

FILES = 400  # distinct files, each named by 3 expired rows
SHARED = 40  # of those, files a live row also names
LIVE_ALONE = 30  # live rows with files of their own

# Rows and files as the store writes them (content-addressed names), without a vendor in the way.
SEED = f"""
from datetime import timedelta
from django.core.files.base import ContentFile
from django.core.files.storage import default_storage
from django.utils import timezone
from proxy.models import StoredImage
from proxy.services import storage_name

past, future = timezone.now() - timedelta(minutes=1), timezone.now() + timedelta(days=1)

def row(index, expires_at):
    sha = f"{{index:064x}}"
    name = storage_name(sha, "png")
    if not default_storage.exists(name):
        default_storage.save(name, ContentFile(b"bytes %d" % index))
    return StoredImage(sha256=sha, file=name, content_type="image/png", extension="png", width=1, height=1,
                       byte_size=8, expires_at=expires_at)

rows = [row(index, past) for index in range({FILES}) for _ in range(3)]
rows += [row(index, None if index % 2 else future) for index in range({SHARED})]
rows += [row(100000 + index, future) for index in range({LIVE_ALONE})]
StoredImage.objects.bulk_create(rows, batch_size=500)
"""

STATE = """
import json
from django.core.files.storage import default_storage
from proxy.models import StoredImage
rows = StoredImage.objects.all()
print(json.dumps({
    "live": rows.filter(removed_at__isnull=True).count(),
    "expired": rows.filter(removal="expired").count(),
    "unreleased": rows.filter(removed_at__isnull=False, file_released=False).count(),
    "live_files_missing": sum(not default_storage.exists(n) for n in
                              set(rows.filter(removed_at__isnull=True).values_list("file", flat=True))),
    "dead_files_left": sum(default_storage.exists(n) for n in
                           set(rows.filter(removed_at__isnull=False).values_list("file", flat=True))
                           - set(rows.filter(removed_at__isnull=True).values_list("file", flat=True))),
}))
"""


@pytest.fixture(params=["sqlite", "postgresql"])
def gateway(request, tmp_path):
    data = tmp_path / "gateway"
    if request.param == "sqlite":
        env = {"DATABASE_URL": f"sqlite:///{data / 'db.sqlite3'}"}
    elif os.environ.get("DATABASE_URL", "").startswith(("postgres://", "postgresql://")):
        env = {}  # a fresh database beside DATABASE_URL's, dropped by stop()
    else:
        pytest.skip("DATABASE_URL does not point at PostgreSQL")
    process = GatewayProcess(data, env)
    try:
        yield process.prepare()
    finally:
        process.stop()


def test_two_purges_at_once_remove_every_expired_image_once_and_keep_what_live_images_need(gateway):
    gateway.python(SEED)
    command = [sys.executable, "manage.py", "purge_images"]
    runs = [
        subprocess.Popen(
            command, cwd=ROOT, env=gateway.env(), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
        )
        for _ in range(2)
    ]
    outputs = [run.communicate(timeout=300) for run in runs]

    assert [run.returncode for run in runs] == [0, 0], outputs
    purged = [int(re.search(r"Purged (\d+) expired", out).group(1)) for out, _ in outputs]
    assert sum(purged) == FILES * 3  # each row removed by exactly one of them
    deleted = [int(re.search(r"deleted (\d+) file", out).group(1)) for out, _ in outputs]
    assert sum(deleted) == FILES - SHARED  # and each file deleted by exactly one
    state = json.loads(gateway.python(STATE).strip().splitlines()[-1])
    assert state == {
        "live": SHARED + LIVE_ALONE,
        "expired": FILES * 3,
        "unreleased": 0,
        "live_files_missing": 0,
        "dead_files_left": 0,
    }
    again = gateway.manage("purge_images")
    assert again.returncode == 0 and again.stdout.startswith("Purged 0 expired image(s); deleted 0 file(s)")
