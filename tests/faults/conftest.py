"""The stage of the fault matrix: one kind's fake with a vendor row, two keys and a model; the log as written."""

from __future__ import annotations

import io
import logging
import socket

import pytest

from core.redaction import RedactingFilter
from tests.factories import client_key_row
from vendors.adapters.polling import PollingAdapter

CLIENT_KEY = "client-key-for-the-fault-matrix-0001"


@pytest.fixture(autouse=True)
def _client_key(request):
    """The matrix's client key, as a row, for the tests that use the database."""
    if "transactional_db" in request.fixturenames:
        request.getfixturevalue("transactional_db")
        client_key_row(CLIENT_KEY)


@pytest.fixture(autouse=True)
def _quick(monkeypatch):
    # Polled jobs: the pauses between polls shrink (the deadline rules stay the same).
    monkeypatch.setattr(PollingAdapter, "poll_first", 0.01)
    monkeypatch.setattr(PollingAdapter, "poll_max", 0.05)


@pytest.fixture
def log_text():
    """Everything logged while the test runs, as the console handler writes it (redacted)."""
    buffer = io.StringIO()
    handler = logging.StreamHandler(buffer)
    handler.addFilter(RedactingFilter())
    handler.setFormatter(logging.Formatter("%(levelname)s %(name)s: %(message)s"))
    loggers = [logging.getLogger(), logging.getLogger("django")]  # django's lines do not reach the root
    levels = [logger.level for logger in loggers]
    for logger in loggers:
        logger.addHandler(handler)
        logger.setLevel(logging.INFO)
    yield buffer
    for logger, level in zip(loggers, levels, strict=True):
        logger.removeHandler(handler)
        logger.setLevel(level)


@pytest.fixture
def dead_port() -> int:
    """A port on 127.0.0.1 that nothing listens on (a connection is refused)."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]
