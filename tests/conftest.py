import os

import pytest
from django.conf import settings as django_settings
from django.core.cache import cache
from django.db.backends.postgresql.operations import DatabaseOperations
from django.test import override_settings

from core.state import reset_process_state
from imagegen.alerts import Courier, courier

# Tests whose outcome does not depend on the database or the cache: adapters against their fakes, the catalog's
# facts, settings parsing, the deploy files, the pages in a real browser, the in-process fault matrix (about vendors;
# its transport faults through a real gateway stay in both). They run once, in the pass without DATABASE_URL
# (SQLite), which keeps CI's two passes within their time; everything else runs in both.
BACKEND_INDEPENDENT = (
    "tests/vendors/adapters/",
    "tests/vendors/images/",
    "tests/catalog/test_facts.py",
    "tests/test_settings.py",
    "tests/deploy/",
    "tests/admin/test_admin_in_chromium.py",
    "tests/playground/test_playground_in_chromium.py",
    "tests/faults/test_fault_matrix.py",
    "tests/faults/test_optimizer_faults.py",
    # the server's own HTTP behaviour and clients' view of it, the same on either database
    "tests/api/test_edge_over_http.py",
    "tests/admin/test_login_lockout.py",
    "tests/e2e/test_access_log.py",
    "tests/e2e/test_connection_bounds.py",
    "tests/e2e/test_costs.py",
    "tests/e2e/test_image_input_client.py",
    "tests/e2e/test_openai_client.py",
    "tests/e2e/test_streaming.py",
    "tests/e2e/test_styles_over_http.py",
    "tests/e2e/test_shutdown.py",
    "tests/e2e/test_probe_heals.py",
    "tests/e2e/test_metrics_workers.py",
    "tests/contract/test_fuzzing.py",
)
# Two gateway instances on one PostgreSQL, one Redis and one bucket: the deployment they stand for.
POSTGRES_AND_REDIS_ONLY = ("tests/e2e/test_instances.py",)


# The folders whose files start real servers and take seconds each: they are handed out first, so the two
# processes of `make test` (pytest-xdist, a file to a process) end on small files together, not one on a long file.
SLOW_FIRST = (
    "tests/e2e/",
    "tests/faults/",
    "tests/contract/",
    "tests/playground/",
    "tests/deploy/",
    "tests/commands/",
)


def pytest_collection_modifyitems(config, items):
    items.sort(key=lambda item: not item.nodeid.startswith(SLOW_FIRST))  # stable: each file stays in one piece
    if os.environ.get("DATABASE_URL", "").startswith("postgres") and os.environ.get("REDIS_URL"):
        skip, skipped = (
            pytest.mark.skip(reason="independent of the database and cache: runs in the SQLite pass"),
            BACKEND_INDEPENDENT,
        )
    else:
        skip, skipped = pytest.mark.skip(reason="runs in the PostgreSQL + Redis pass"), POSTGRES_AND_REDIS_ONLY
    for item in items:
        if item.nodeid.startswith(skipped):
            item.add_marker(skip)


@pytest.fixture(scope="session", autouse=True)
def _flush_by_delete_on_postgres():
    """Tests that need real transactions end by emptying every table. PostgreSQL's TRUNCATE of some 80 tables
    makes new files for each and their indexes, about 1.4 s a test; DELETE of their few rows takes
    milliseconds. Django makes every foreign key DEFERRABLE INITIALLY DEFERRED and flushes in one
    transaction, so the order of the deletes does not matter."""
    original = DatabaseOperations.sql_flush

    def sql_flush(self, style, tables, *, reset_sequences=False, allow_cascade=False):
        if reset_sequences or allow_cascade:
            return original(self, style, tables, reset_sequences=reset_sequences, allow_cascade=allow_cascade)
        return [f"{style.SQL_KEYWORD('DELETE FROM')} {style.SQL_FIELD(self.quote_name(table))};" for table in tables]

    DatabaseOperations.sql_flush = sql_flush
    yield
    DatabaseOperations.sql_flush = original


@pytest.fixture(scope="session", autouse=True)
def _cache_outside_the_data_dir(tmp_path_factory):
    """The embedded file cache lives in DATA_DIR; the suite's goes to a folder of its own, so the
    cache.clear() around every test never empties the cache of a gateway running on this checkout."""
    default = django_settings.CACHES["default"]
    if default["BACKEND"] != "core.file_cache.SharedFileCache":
        yield
        return
    location = str(tmp_path_factory.mktemp("cache"))
    with override_settings(CACHES={**django_settings.CACHES, "default": {**default, "LOCATION": location}}):
        yield


@pytest.fixture(autouse=True)
def _isolated_state(settings, tmp_path):
    """Every test starts with an empty cache, a fresh process state and its own media folder."""
    settings.MEDIA_ROOT = str(tmp_path / "media")
    # Django's sync test client runs every request in a new event loop, which would leave one
    # unclosed aiohttp session per request; in-process tests ride httpx's own transport instead.
    # The end-to-end tests run the real server on the default aiohttp transport.
    settings.HTTP_TRANSPORT = "httpx"
    cache.clear()
    reset_process_state()
    yield
    cache.clear()
    reset_process_state()


@pytest.fixture(autouse=True)
def _alerts_only_where_asked(request, monkeypatch):
    """The alerts' courier writes its rows from a thread of its own, on its own connection: in a test
    that is not about alerts it would race the test's own writes (SQLite's shared in-memory database
    answers "table is locked" at once) and outlive the test's rows. Only tests marked ``alerts`` get it."""
    if request.node.get_closest_marker("alerts") is None:
        monkeypatch.setattr(Courier, "submit", lambda self, work: None)
    yield
    courier().close()
