"""Which environment variables the settings read: found by loading them, not by reading their source.

A fresh interpreter records every read of ``os.environ`` made from the project's own code (django-environ's
reads count for the settings line that asked), then loads the settings as a start does, the gunicorn
configuration included. It loads them twice, on the embedded defaults and on PostgreSQL, Redis and S3
settings (nothing is connected to), because some variables are read only on one of those paths.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys

from tests.gateway_process import ROOT

RECORDER = r"""
import json, os, sys
from pathlib import Path

ROOT = Path(sys.argv[1]).resolve()
OWN = [str(ROOT / name) for name in ("imagegen", "core", "vendors", "proxy")]
PASS_THROUGH = (os.__file__, Path(os.__file__).with_name("_collections_abc.py").as_posix(), "/environ/")
read = set()
original = os._Environ.__getitem__

def recording_getitem(self, key):
    frame = sys._getframe(1)
    while frame is not None and any(part in frame.f_code.co_filename for part in PASS_THROUGH):
        frame = frame.f_back  # through os.environ.get and django-environ, to the code that asked
    if frame is not None and frame.f_code.co_filename.startswith(tuple(OWN)):
        read.add(key)
    return original(self, key)

os._Environ.__getitem__ = recording_getitem
import django
django.setup()
import imagegen.gunicorn_config  # noqa: F401
print(json.dumps(sorted(read)))
"""

PATHS = {
    "embedded defaults": {},
    "PostgreSQL, Redis and S3": {
        "DATABASE_URL": "postgres://reader@127.0.0.1:1/never_connected",
        "REDIS_URL": "redis://127.0.0.1:1/0",
        "IMAGE_STORAGE": "s3",
        "AWS_STORAGE_BUCKET_NAME": "never-used",
    },
}
# Read by `manage.py` and `imagegen.settings` to find the settings, not settings themselves.
BOOTSTRAP = {"DJANGO_SETTINGS_MODULE", "ENV_FILE"}


def variables_the_settings_read(data_dir) -> set[str]:
    names: set[str] = set()
    for extra in PATHS.values():
        env = {"PATH": os.environ["PATH"], "ENV_FILE": "", "DATA_DIR": str(data_dir)}
        env.update(DJANGO_SETTINGS_MODULE="imagegen.settings", **extra)
        result = subprocess.run(
            [sys.executable, "-c", RECORDER, str(ROOT)], cwd=ROOT, env=env, capture_output=True, text=True, timeout=120
        )
        assert result.returncode == 0, result.stderr
        names |= set(json.loads(result.stdout.strip().splitlines()[-1]))
    return names - BOOTSTRAP
