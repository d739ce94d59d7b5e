"""Finding a stored image by its token, fast: the image-serving path's one query, mostly skipped.

A token seen recently is answered from a small in-process index (kept in the process state). Rows
change only when an image is removed (taken down, or purged after its retention), in any process:
``proxy.removal`` then writes a new removal stamp to the shared cache, and each worker reads that
stamp at most once every ``IMAGE_REMOVAL_CHECK_SECONDS`` (1 s), emptying its index when it changed.
The hot path's cost is one cache read per second per worker, not per request; a removal reaches
every worker within that second. Removed images are indexed too (as tombstones: they stay removed).
If the cache does not answer, the index is emptied at each check, so every lookup asks the database.
"""

from __future__ import annotations

import logging
import re
import threading
import time
from collections import OrderedDict
from typing import NamedTuple

from django.conf import settings

from core.db import run_cache, run_db
from core.state import process_state
from proxy.models import StoredImage
from proxy.removal import removal_stamp

log = logging.getLogger(__name__)

TOKEN_RE = re.compile(r"[A-Za-z0-9_-]{1,64}")


class StoredFile(NamedTuple):
    file: str
    content_type: str
    sha256: str
    size: int
    extension: str
    removal: str = ""  # "" while it is served; else StoredImage.Removal: its URL answers 410


class RecentImages:
    """A bounded LRU of token -> StoredFile."""

    max_entries = 4096

    def __init__(self) -> None:
        self._entries: OrderedDict[str, StoredFile] = OrderedDict()
        self._lock = threading.Lock()  # the sync test client and WSGI run views in several threads
        self.stamp: object = None  # the removal stamp the entries were read under
        self.checked_at = float("-inf")  # time.monotonic() of the last look at the stamp
        self.generation = 0  # counts clears: a lookup that spanned one may hold a removed row as live

    def get(self, token: str) -> StoredFile | None:
        with self._lock:
            entry = self._entries.get(token)
            if entry is not None:
                self._entries.move_to_end(token)
            return entry

    def put(self, token: str, entry: StoredFile, generation: int | None = None) -> None:
        """Index ``entry``; with ``generation``, only if the index was not cleared since then."""
        with self._lock:
            if generation is not None and generation != self.generation:
                return
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
            self.generation += 1

    def __len__(self) -> int:
        return len(self._entries)


def recent_images() -> RecentImages:
    return process_state().slot(RecentImages)


def _lookup(token: str) -> StoredFile | None:
    row = (
        StoredImage.objects.filter(token=token)
        .values_list("file", "content_type", "sha256", "byte_size", "extension", "removal")
        .first()
    )
    return StoredFile(*row) if row else None


async def stored_file(token: str) -> StoredFile | None:
    """The stored file behind a token, or None for a token that names no image."""
    if not TOKEN_RE.fullmatch(token):
        return None
    recent = await _current_index()
    entry = recent.get(token)
    if entry is None:
        generation = recent.generation
        entry = await run_db(_lookup, token)
        if entry is not None:
            recent.put(token, entry, generation)
    return entry


async def _current_index() -> RecentImages:
    """The index, emptied first when an image was removed anywhere since this worker last looked."""
    recent = recent_images()
    now = time.monotonic()
    if now - recent.checked_at < settings.IMAGE_REMOVAL_CHECK_SECONDS:
        return recent
    recent.checked_at = now  # before the read: concurrent requests do not all ask
    try:
        stamp = await run_cache(removal_stamp)
    except Exception as exc:  # the cache is down: trust nothing, ask the database for every token
        log.warning("could not read the image removal stamp (%s); the image index is bypassed", type(exc).__name__)
        stamp = object()
    if stamp != recent.stamp:
        recent.clear()
        recent.stamp = stamp
    return recent


async def lookup(token: str) -> StoredFile | None:
    """The row as the database has it now, bypassing the index."""
    return await run_db(_lookup, token) if TOKEN_RE.fullmatch(token) else None


def forget(token: str) -> None:
    """Drop a token whose file turned out to be gone."""
    recent_images().discard(token)
