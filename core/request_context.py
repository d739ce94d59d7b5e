"""What the gateway knows about the request being served, wherever the code runs: its id and what it asked for.

One :class:`RequestContext` per HTTP request, set in a context variable by the ASGI entry
(``imagegen.observed``) before anything else runs. asyncio tasks and the executor threads of
``core.db`` copy the context when they start, so a log line written anywhere while the request is
served (the pipeline, a vendor adapter, a database step, uvicorn's access line) can name the request
(``core.logs.RequestIdFilter``), and its ledger row records the id.

The id is the client's ``X-Request-ID`` when that is a plain token (:func:`accepted`), else one made
here: ``req_`` and 20 hex digits, short enough that the log's key scrubber leaves it whole.
"""

from __future__ import annotations

import re
import secrets
from contextvars import ContextVar
from dataclasses import dataclass

from core.redaction import scrub

HEADER = "X-Request-ID"
MAX_LENGTH = 128
# Letters, digits and . _ : - only: nothing that could break a header, a log line or a JSON string.
PLAIN = re.compile(r"[A-Za-z0-9._:-]{1,128}")
# What proxies and tracers commonly send: a UUID, or nginx's $request_id (32 hex digits).
UUID = re.compile(r"[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}|[0-9a-fA-F]{32}")


@dataclass
class RequestContext:
    request_id: str
    endpoint: str = "other"
    model: str = ""  # the public model it asked for, once resolved (unknown names stay "": bounded labels)


_current: ContextVar[RequestContext | None] = ContextVar("imagegen_request", default=None)


def made() -> str:
    return "req_" + secrets.token_hex(10)


def accepted(value: str | None) -> str | None:
    """The client's id when it is plain (at most 128 of ``A-Z a-z 0-9 . _ : -``) and does not look like a
    key (``sk-…``, a long opaque token; a UUID or 32 hex digits are fine); else None (one is made)."""
    if not value or not PLAIN.fullmatch(value):
        return None
    if UUID.fullmatch(value) or scrub(value) == value:
        return value
    return None


def begin(header_value: str | None, endpoint: str) -> RequestContext:
    """Start the context of a request in the current task; returns it."""
    context = RequestContext(request_id=accepted(header_value) or made(), endpoint=endpoint)
    _current.set(context)
    return context


def current() -> RequestContext | None:
    return _current.get()


def current_request_id() -> str:
    """The id of the request being served; "" outside one (a management command, a worker's boot)."""
    context = _current.get()
    return context.request_id if context is not None else ""


def note_model(name: str) -> None:
    """The request asked for this (known) model: its metrics carry the name."""
    context = _current.get()
    if context is not None:
        context.model = name
