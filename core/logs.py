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
  printed only when it is an IP address (``[not an address]`` otherwise), by :class:`AccessLineFilter`.
"""

from __future__ import annotations

import logging
import logging.config
from urllib.parse import parse_qsl, quote

from core.domains import is_ip
from core.redaction import RedactingFilter, mask

SERVER_LOGGERS = ("uvicorn.error", "gunicorn.error", "gunicorn.access")
ACCESS_LOGGER = "uvicorn.access"
NOT_AN_ADDRESS = "[not an address]"


def configure_logging(config: dict) -> None:
    """``settings.LOGGING_CONFIG``: apply ``config``, then filter the server's loggers (see the module)."""
    logging.config.dictConfig(config)
    for name in SERVER_LOGGERS:
        _filter_once(logging.getLogger(name), RedactingFilter)
    _filter_once(logging.getLogger(ACCESS_LOGGER), AccessLineFilter)


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
        return super().filter(record)


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
