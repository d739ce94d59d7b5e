"""The server's own loggers get the redacting filters without losing where they write."""

from __future__ import annotations

import io
import logging

import pytest
from django.conf import settings
from uvicorn.logging import AccessFormatter

from core.logs import NOT_AN_ADDRESS, AccessLineFilter, RequestIdFilter, configure_logging

ACCESS_FORMAT = '%s - "%s %s HTTP/%s" %d'  # uvicorn's access record


def access_record(client: str, path: str) -> logging.LogRecord:
    return logging.LogRecord(
        "uvicorn.access", logging.INFO, __file__, 1, ACCESS_FORMAT, (client, "GET", path, "1.1", 200), None
    )


@pytest.mark.parametrize(
    ("client", "printed"),
    [
        ("203.0.113.9:51234", "203.0.113.9:51234"),
        ("2001:db8::7:443", "2001:db8::7:443"),
        ('1.2.3.4 - "GET /admin HTTP/1.1" 200:0', NOT_AN_ADDRESS),  # a forged X-Forwarded-For
        ("1.2.3.4\x85203.0.113.9:0", NOT_AN_ADDRESS),
        ("evil.example:0", NOT_AN_ADDRESS),
    ],
)
def test_an_access_lines_client_is_printed_only_when_it_is_an_address(client, printed):
    entry = access_record(client, "/health")

    AccessLineFilter().filter(entry)

    assert entry.getMessage() == f'{printed} - "GET /health HTTP/1.1" 200'


def test_an_access_lines_query_values_are_masked():
    entry = access_record("127.0.0.1:5000", "/v1/models?key=my-client-key-0001&api_key=short&page=2")

    AccessLineFilter().filter(entry)

    assert entry.getMessage() == '127.0.0.1:5000 - "GET /v1/models?key=…0001&api_key=…hort&page=… HTTP/1.1" 200'


def test_uvicorns_own_access_formatter_still_formats_a_filtered_line():
    entry = access_record("1.2.3.4\n5.6.7.8:0", "/v1/models?key=sk-live-0123456789abcdef")
    AccessLineFilter().filter(entry)

    line = AccessFormatter('%(client_addr)s - "%(request_line)s" %(status_code)s', use_colors=False).format(entry)

    assert line == f'{NOT_AN_ADDRESS} - "GET /v1/models?key=…cdef HTTP/1.1" 200 OK'


def test_configuring_logging_filters_the_server_loggers_and_keeps_their_handlers():
    access = logging.getLogger("uvicorn.access")
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)  # what gunicorn's --access-logfile puts there
    saved = (list(access.handlers), list(access.filters), access.level, access.propagate)
    access.handlers, access.filters, access.propagate = [handler], [], False
    access.setLevel(logging.INFO)
    try:
        configure_logging(settings.LOGGING)
        configure_logging(settings.LOGGING)  # once is enough: the filter is not added twice
        access.info(ACCESS_FORMAT, "not-an-ip:0", "GET", "/v1/models?key=sk-live-0123456789abcdef", "1.1", 200)
        filters = [type(item) for item in access.filters]
    finally:
        access.handlers, access.filters, access.level, access.propagate = saved

    assert access.handlers == saved[0]
    assert filters == [AccessLineFilter, RequestIdFilter]
    assert stream.getvalue() == f'{NOT_AN_ADDRESS} - "GET /v1/models?key=…cdef HTTP/1.1" 200\n'
    assert settings.LOGGING_CONFIG == "core.logs.configure_logging"
