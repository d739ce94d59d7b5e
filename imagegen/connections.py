"""uvicorn's httptools protocol with the bounds it lacks, so one client cannot hold a worker's connections.

uvicorn 0.54's ``HttpToolsProtocol`` (what ``http="auto"`` picks when httptools is installed) has a
keep-alive timeout and ``limit_concurrency``, and nothing else: no limit on the size of the request
line and headers (``h11_max_incomplete_event_size`` binds only its h11 protocol), no time limit on
receiving them (a connection that sends one byte a second, or nothing, stays open for ever), none
on receiving the body, and its over-limit answer is a plain-text 503. This subclass adds, per
connection:

- ``HEADER_READ_TIMEOUT``: from the connection (or the first byte of a keep-alive request) to the
  end of the headers; then the connection is answered 408 and closed;
- ``MAX_HEADER_BYTES``: request line and headers; more is answered 431 and closed;
- ``BODY_READ_TIMEOUT``: from the end of the headers to the end of the body; then the connection is
  closed (the app hears a disconnect);
- ``MAX_CONNECTIONS_PER_WORKER``: past it, requests are answered with an OpenAI-shaped 503 and the
  connection closed.

Every answer here is OpenAI's error shape, like the app's own.
"""

from __future__ import annotations

import json
import logging
from asyncio import TimerHandle
from dataclasses import dataclass
from functools import cache

from django.conf import settings
from uvicorn.protocols.http.httptools_impl import STATUS_LINE, HttpToolsProtocol

from core.errors import error_body

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Bounds:
    max_connections: int
    max_header_bytes: int
    header_timeout: float
    body_timeout: float


@cache
def bounds() -> Bounds:
    return Bounds(
        max_connections=settings.MAX_CONNECTIONS_PER_WORKER,
        max_header_bytes=settings.MAX_HEADER_BYTES,
        header_timeout=settings.HEADER_READ_TIMEOUT,
        body_timeout=settings.BODY_READ_TIMEOUT,
    )


def _error_json(status: int, code: str, message: str) -> bytes:
    error_type = "server_error" if status >= 500 else "invalid_request_error"
    return json.dumps(error_body(message, error_type=error_type, code=code)).encode()


def error_response(status: int, code: str, message: str) -> bytes:
    """A whole HTTP response that closes the connection, with an OpenAI-shaped error body."""
    body = _error_json(status, code, message)
    head = f"content-type: application/json\r\ncontent-length: {len(body)}\r\nconnection: close\r\n\r\n"
    return STATUS_LINE[status] + head.encode() + body


BUSY = _error_json(503, "server_busy", "The server is at its connection limit; retry shortly.")
BUSY_HEADERS = [(b"content-type", b"application/json"), (b"retry-after", b"1"), (b"connection", b"close")]


async def answer_busy(scope, receive, send) -> None:
    """The ASGI app that stands in for the gateway while the worker is at its connection limit."""
    await send({"type": "http.response.start", "status": 503, "headers": BUSY_HEADERS})
    await send({"type": "http.response.body", "body": BUSY})


class HeadersTooLarge(Exception):
    """Raised from a parser callback: httptools stops parsing, and uvicorn answers (see send_400_response)."""


class BoundedHttpProtocol(HttpToolsProtocol):
    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.bounds = bounds()
        self.gateway = self.app
        self._timer: TimerHandle | None = None
        self._awaiting_headers = False
        self._header_bytes = 0  # of the request line and headers the parser has handed over
        self._unparsed_bytes = 0  # received while the headers were still incomplete (held by the parser)
        self._oversized = False

    # --- the request line and headers: time and size -------------------------------------------
    def connection_made(self, transport) -> None:
        super().connection_made(transport)
        self._expect_headers()

    def on_message_begin(self) -> None:
        super().on_message_begin()
        self._header_bytes = self._unparsed_bytes = 0
        if not self._awaiting_headers:  # a keep-alive request: its clock starts at its first byte
            self._expect_headers()

    def on_url(self, url: bytes) -> None:
        self._count(len(url))
        super().on_url(url)

    def on_header(self, name: bytes, value: bytes) -> None:
        self._count(len(name) + len(value) + 4)  # with ": " and CRLF
        super().on_header(name, value)

    def data_received(self, data: bytes) -> None:
        super().data_received(data)
        if self._awaiting_headers and not self.transport.is_closing():
            # A header line that never ends is held by the parser, unseen by the callbacks: count the bytes.
            self._unparsed_bytes += len(data)
            if self._unparsed_bytes > self.bounds.max_header_bytes:
                self._oversized = True
                self.send_400_response("")

    def send_400_response(self, msg: str) -> None:
        if self._oversized:
            self._refuse(431, "request_header_too_large", "The request line and headers are too large.")
        else:
            super().send_400_response(msg)

    def on_headers_complete(self) -> None:
        self._awaiting_headers = False
        self._start_timer(self.bounds.body_timeout, self._body_too_slow)
        over = len(self.connections) > self.bounds.max_connections or len(self.tasks) >= self.bounds.max_connections
        self.app = answer_busy if over else self.gateway
        if over:
            log.warning("connection limit of %d reached; answering 503", self.bounds.max_connections)
        super().on_headers_complete()

    def on_message_complete(self) -> None:
        self._stop_timer()
        super().on_message_complete()

    def connection_lost(self, exc: Exception | None) -> None:
        self._stop_timer()
        super().connection_lost(exc)

    # --- helpers -----------------------------------------------------------------------------------
    def _count(self, size: int) -> None:
        self._header_bytes += size
        if self._header_bytes > self.bounds.max_header_bytes:
            self._oversized = True
            raise HeadersTooLarge()

    def _expect_headers(self) -> None:
        self._awaiting_headers = True
        self._start_timer(self.bounds.header_timeout, self._headers_too_slow)

    def _headers_too_slow(self) -> None:
        self._timer = None
        log.info("closing a connection that did not send its headers in %g s", self.bounds.header_timeout)
        self._refuse(408, "request_timeout", "The request headers did not arrive in time.")

    def _body_too_slow(self) -> None:
        self._timer = None
        if not self.transport.is_closing():
            log.info("closing a connection that did not send its body in %g s", self.bounds.body_timeout)
            self.transport.close()

    def _refuse(self, status: int, code: str, message: str) -> None:
        self._stop_timer()
        if self.transport.is_closing():
            return
        if self.cycle is None or self.cycle.response_complete:  # not in the middle of another answer
            self.transport.write(error_response(status, code, message))
        self.transport.close()

    def _start_timer(self, seconds: float, callback) -> None:
        self._stop_timer()
        self._timer = self.loop.call_later(seconds, callback)

    def _stop_timer(self) -> None:
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
