"""Finding a stored image by its token, fast: the image-serving path's one query, mostly skipped.

Rows are never edited, so a token seen recently is answered from a small in-process index (kept in
the process state); an entry goes stale only when its image is deleted, and the server then finds
no file and drops it (``forget``).
"""

from __future__ import annotations

import re
import threading
from collections import OrderedDict
from typing import NamedTuple

from core.db import run_db
from core.state import process_state
from proxy.models import StoredImage

TOKEN_RE = re.compile(r"[A-Za-z0-9_-]{1,64}")


class StoredFile(NamedTuple):
    file: str
    content_type: str
    sha256: str
    size: int
    extension: str


class RecentImages:
    """A bounded LRU of token -> StoredFile."""

    max_entries = 4096

    def __init__(self) -> None:
        self._entries: OrderedDict[str, StoredFile] = OrderedDict()
        self._lock = threading.Lock()  # the sync test client and WSGI run views in several threads

    def get(self, token: str) -> StoredFile | None:
        with self._lock:
            entry = self._entries.get(token)
            if entry is not None:
                self._entries.move_to_end(token)
            return entry

    def put(self, token: str, entry: StoredFile) -> None:
        with self._lock:
            self._entries[token] = entry
            self._entries.move_to_end(token)
            while len(self._entries) > self.max_entries:
                self._entries.popitem(last=False)

    def discard(self, token: str) -> None:
        with self._lock:
            self._entries.pop(token, None)

    def __len__(self) -> int:
        return len(self._entries)


def recent_images() -> RecentImages:
    return process_state().slot(RecentImages)


def _lookup(token: str) -> StoredFile | None:
    row = (
        StoredImage.objects.filter(token=token)
        .values_list("file", "content_type", "sha256", "byte_size", "extension")
        .first()
    )
    return StoredFile(*row) if row else None


async def stored_file(token: str) -> StoredFile | None:
    """The stored file behind a token, or None for a token that names no image."""
    if not TOKEN_RE.fullmatch(token):
        return None
    recent = recent_images()
    entry = recent.get(token)
    if entry is None:
        entry = await run_db(_lookup, token)
        if entry is not None:
            recent.put(token, entry)
    return entry


def forget(token: str) -> None:
    """Drop a token whose file turned out to be gone."""
    recent_images().discard(token)
