"""One process at a time on a stored file's name, across every worker and host (through the shared cache).

Files are content-addressed, so a new image can reuse the file of an older one with the same bytes.
A purge deletes a file once no live row names it; a generation that found the file in place records its
row later. Both check under this lock: the purge that no live row names the file before deleting it, the
generation (after its row is committed) that the file is still there, writing it again if not. Whichever
goes second sees what the first did, so a live row never names a deleted file.
"""

from __future__ import annotations

import hashlib
import secrets
import time
from collections.abc import Iterator
from contextlib import contextmanager

from django.core.cache import cache

HOLD_SECONDS = 60  # a holder that died frees the name after this
WAIT_SECONDS = 10.0


class FileBusy(Exception):
    """Another process held the name for longer than WAIT_SECONDS."""


@contextmanager
def file_lock(name: str) -> Iterator[None]:
    key = "image-file-lock:" + hashlib.sha256(name.encode()).hexdigest()
    owner = secrets.token_hex(8)
    deadline = time.monotonic() + WAIT_SECONDS
    while not cache.add(key, owner, timeout=HOLD_SECONDS):
        if time.monotonic() >= deadline:
            raise FileBusy(name)
        time.sleep(0.02)
    try:
        yield
    finally:
        if cache.get(key) == owner:  # not past HOLD_SECONDS and taken by another
            cache.delete(key)
