"""Logging set-up: Django's ``LOGGING``, then the redacting filters on the web server's own loggers.

uvicorn writes one access line per request on the ``uvicorn.access`` logger: under gunicorn (``make
run``) the ``UvicornWorker`` gives that logger the handlers of gunicorn's ``--access-logfile``, under
plain uvicorn it has uvicorn's own; gunicorn's ``access_log_format`` is never used. The line is made
of what the request says: the client address (taken from ``X-Forwarded-For`` when the peer is a trusted
proxy), the method, the path and its query string. ``LOGGING`` cannot add a filter to a logger without
replacing its handlers, so :func:`configure_logging` (``settings.LOGGING_CONFIG``) adds the filters to
the loggers themselves, wherever their lines go:

- every value is scrubbed (URLs, anything shaped like a key) and kept on one line (control characters,
  terminal escapes and Unicode line separators escaped), by :class:`core.redaction.RedactingFilter`;
- an access line's query values are masked to their last 4 characters, and its client address is
  printed only when it is an IP address (``[not an address]`` otherwise), by :class:`AccessLineFilter`,
  which also ends it with the request's id;
- every record carries the id of the request it was written for (``request_id``, "-" outside one), by
  :class:`RequestIdFilter`; the plain format prints it, and ``LOG_FORMAT=json`` makes each line one JSON
  object (:class:`JsonFormatter`), the server's own lines included.
"""

from __future__ import annotations

import json
import logging
import logging.config
from datetime import UTC, datetime
from urllib.parse import parse_qsl, quote

from django.conf import settings

from core.domains import is_ip
from core.redaction import RedactingFilter, mask
from core.request_context import current_request_id

SERVER_LOGGERS = ("uvicorn.error", "gunicorn.error", "gunicorn.access")
ACCESS_LOGGER = "uvicorn.access"
NOT_AN_ADDRESS = "[not an address]"


def configure_logging(config: dict) -> None:
    """``settings.LOGGING_CONFIG``: apply ``config``, then filter the server's loggers (see the module);
    with ``LOG_FORMAT=json`` their handlers write JSON lines too."""
    logging.config.dictConfig(config)
    for name in SERVER_LOGGERS:
        _filter_once(logging.getLogger(name), RedactingFilter)
    _filter_once(logging.getLogger(ACCESS_LOGGER), AccessLineFilter)
    for name in (*SERVER_LOGGERS, ACCESS_LOGGER):
        _filter_once(logging.getLogger(name), RequestIdFilter)
    if getattr(settings, "LOG_FORMAT", "plain") == "json":
        json_lines(*SERVER_LOGGERS, ACCESS_LOGGER)


def json_lines(*names: str) -> None:
    """The handlers of these loggers (the server's own, set up before Django's) write JSON lines."""
    for name in names:
        for handler in logging.getLogger(name).handlers:
            handler.setFormatter(JsonFormatter())


def _filter_once(logger: logging.Logger, kind: type[logging.Filter]) -> None:
    if not any(type(existing) is kind for existing in logger.filters):
        logger.addFilter(kind())


class AccessLineFilter(RedactingFilter):
    """uvicorn's access record, ``'%s - "%s %s HTTP/%s" %d'`` with (client, method, path, version, status):
    the client address checked and the query values masked, then redacted as every record is."""

    def filter(self, record: logging.LogRecord) -> bool:
        args = record.args
        if isinstance(args, tuple) and len(args) == 5 and all(isinstance(value, str) for value in args[:3]):
            record.args = (client_address(args[0]), args[1], masked_query(args[2]), *args[3:])
        super().filter(record)
        request_id = current_request_id()
        plain = getattr(settings, "LOG_FORMAT", "plain") != "json"  # a JSON line has its own request_id field
        if request_id and plain and isinstance(record.msg, str):  # after the scrub, which would mask a UUID
            record.msg = f"{record.msg} {request_id}"  # checked: no % in it (core.request_context)
        return True


class RequestIdFilter(logging.Filter):
    """Puts the id of the request being served on the record (``request_id``; "-" outside a request)."""

    def filter(self, record: logging.LogRecord) -> bool:
        record.request_id = current_request_id() or "-"
        return True


class JsonFormatter(logging.Formatter):
    """One JSON object per line: time, level, logger, message, request_id (when in a request), exception.
    Put after the redacting filters, it writes what they left; JSON escapes anything that could break a line."""

    def format(self, record: logging.LogRecord) -> str:
        entry = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
        }
        request_id = getattr(record, "request_id", None) or current_request_id()
        if request_id and request_id != "-":
            entry["request_id"] = request_id
        if record.exc_info and not record.exc_text:
            record.exc_text = self.formatException(record.exc_info)
        if record.exc_text:
            entry["exception"] = record.exc_text
        return json.dumps(entry, ensure_ascii=True)


def client_address(value: str) -> str:
    """``host:port`` as uvicorn writes it, when the host is an IP address; else ``[not an address]``."""
    host, _, port = value.rpartition(":")
    return value if is_ip(host) and port.isdigit() else NOT_AN_ADDRESS


def masked_query(path: str) -> str:
    """A path whose query values are masked to their last 4 characters (``?key=…f00d``): a client key or a
    signature in a query string is no business of the log."""
    path, separator, query = path.partition("?")
    if not separator:
        return path
    pairs = parse_qsl(query, keep_blank_values=True)
    masked = "&".join(f"{quote(name, safe='')}={_masked(value)}" for name, value in pairs)
    return f"{path}?{masked}"


def _masked(value: str) -> str:
    shown = mask(value)  # "…" and the last 4 characters, which are quoted again like the rest of the line
    return shown[:1] + quote(shown[1:], safe="")
