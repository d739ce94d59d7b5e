"""Serving stored images: ``/images/<token>.<ext>``, nothing else (never a ``?url=`` fetcher).

A stored image never changes, so answers carry a year-long immutable Cache-Control and the
content hash as ETag. This path is hot: one query by token (skipped for tokens seen recently,
through a small in-process index), then the bytes read from storage in a worker thread.
"""

from __future__ import annotations

import asyncio
import logging
import re
import threading
from collections import OrderedDict
from typing import NamedTuple

from django.http import HttpResponse
from django.views.decorators.csrf import csrf_exempt

from imagegen.api.errors import error_response, method_not_allowed
from imagegen.db import run_db
from proxy.models import StoredImage
from proxy.services import read_stored

log = logging.getLogger(__name__)

TOKEN_RE = re.compile(r"[A-Za-z0-9_-]{1,64}")
CACHE_CONTROL = "public, max-age=31536000, immutable"
ALLOWED_METHODS = ("GET", "HEAD")


class Entry(NamedTuple):
    file: str
    content_type: str
    sha256: str
    size: int
    extension: str


class _Index:
    """A bounded LRU of token -> Entry. Rows are never edited, so an entry goes stale only when
    the image is deleted; the view then finds no file and drops it."""

    def __init__(self, max_entries: int = 4096) -> None:
        self.max_entries = max_entries
        self._entries: OrderedDict[str, Entry] = OrderedDict()
        self._lock = threading.Lock()  # the sync test client and WSGI run views in several threads

    def get(self, token: str) -> Entry | None:
        with self._lock:
            entry = self._entries.get(token)
            if entry is not None:
                self._entries.move_to_end(token)
            return entry

    def put(self, token: str, entry: Entry) -> None:
        with self._lock:
            self._entries[token] = entry
            self._entries.move_to_end(token)
            while len(self._entries) > self.max_entries:
                self._entries.popitem(last=False)

    def discard(self, token: str) -> None:
        with self._lock:
            self._entries.pop(token, None)

    def clear(self) -> None:
        with self._lock:
            self._entries.clear()

    def __len__(self) -> int:
        return len(self._entries)


index = _Index()


def _lookup(token: str) -> Entry | None:
    row = (
        StoredImage.objects.filter(token=token)
        .values_list("file", "content_type", "sha256", "byte_size", "extension")
        .first()
    )
    return Entry(*row) if row else None


def etag_matches(header: str, etag: str) -> bool:
    """``If-None-Match`` uses weak comparison: ``*``, a list, and ``W/`` prefixes all count."""
    for candidate in header.split(","):
        candidate = candidate.strip()
        if candidate == "*":
            return True
        if candidate.startswith("W/"):
            candidate = candidate[2:]
        if candidate == etag:
            return True
    return False


def _not_found() -> HttpResponse:
    return error_response(404, "No stored image has this URL.", code="not_found")


@csrf_exempt
async def serve_image(request, token: str, ext: str) -> HttpResponse:
    if request.method not in ALLOWED_METHODS:
        return method_not_allowed(request, ALLOWED_METHODS, "images")
    if not TOKEN_RE.fullmatch(token):
        return _not_found()
    entry = index.get(token)
    if entry is None:
        entry = await run_db(_lookup, token)
        if entry is None:
            return _not_found()
        index.put(token, entry)
    if ext != entry.extension:
        return _not_found()

    etag = f'"{entry.sha256}"'
    headers = {
        "Cache-Control": CACHE_CONTROL,
        "ETag": etag,
        "Access-Control-Allow-Origin": "*",
        "Cross-Origin-Resource-Policy": "cross-origin",  # embeddable from pages that set COEP
        "X-Content-Type-Options": "nosniff",  # API paths skip SecurityMiddleware (imagegen/asgi.py)
    }
    if etag_matches(request.headers.get("If-None-Match", ""), etag):
        # No Content-Length: servers hold a 304 to the length it announces, and it has no body.
        return HttpResponse(status=304, content_type=entry.content_type, headers=headers)

    if request.method == "HEAD":
        body = b""
    else:
        try:
            body = await asyncio.to_thread(read_stored, entry.file)
        except OSError:
            index.discard(token)
            log.warning("stored image %s has no readable file", entry.file)
            return _not_found()
    response = HttpResponse(body, content_type=entry.content_type, headers=headers)
    response["Content-Length"] = str(entry.size if request.method == "HEAD" else len(body))
    return response
