"""A pytest plugin that keeps any ``.env`` file out of the suite, loaded before Django's settings.

``pyproject.toml`` loads it with ``-p tests.without_env_file``, so it runs however pytest is started
(``make test``, plain ``pytest``, one file): ``imagegen.settings`` reads the file that ``ENV_FILE``
names, and an empty ``ENV_FILE`` reads none. A developer's ``.env`` would otherwise change what the
tests see (a vendor variable, a ``DATABASE_URL``) and break ``make test``. The gateway subprocesses
inherit it through ``tests.gateway_process``. The suite's Prometheus files get a temporary folder.
"""

import atexit
import os
import shutil
import tempfile

os.environ["ENV_FILE"] = ""
# The suite's metric files go to a folder of its own, removed at exit, never a gateway's DATA_DIR/metrics.
_metrics = tempfile.mkdtemp(prefix="imagegen-test-metrics-")
os.environ["PROMETHEUS_MULTIPROC_DIR"] = _metrics
atexit.register(shutil.rmtree, _metrics, ignore_errors=True)

# Under pytest-xdist each worker gets a Redis database of its own (the given one, then the ones below it):
# the suite clears its cache around every test, which would empty the other worker's in the middle of one.
_worker = os.environ.get("PYTEST_XDIST_WORKER", "")
_redis_url = os.environ.get("REDIS_URL", "")
if _worker.startswith("gw") and _redis_url:
    _base, _, _db = _redis_url.rpartition("/")
    if _db.isdigit() and int(_db) >= int(_worker[2:]):
        os.environ["REDIS_URL"] = f"{_base}/{int(_db) - int(_worker[2:])}"
