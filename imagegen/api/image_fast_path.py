"""``GET /images/<token>.<ext>`` without Django's request cycle, for the common case.

Serving a stored image is the gateway's most frequent request and its simplest: a Host check, a
token lookup (``proxy.selectors``, in memory almost always), the bytes. Through Django it cost about
1 ms of CPU, most of it building and resolving a request no middleware looks at. Here a GET whose
Host is allowed and whose image is live and known is answered straight from ASGI, with the bytes
from a small in-memory LRU (``IMAGE_MEMORY_CACHE_MB`` per worker; on a miss they are read from
storage once). Everything else (HEAD, ``If-None-Match``, an unknown or removed image, a Host to
refuse, ``USE_X_FORWARDED_HOST``) returns False and takes the view in ``image_files``, which gives
the same answer with its errors. With ``IMAGE_OFFLOAD_HEADER`` the bytes are not sent at all: the
reverse proxy in front serves the file named in that header (nginx's ``X-Accel-Redirect``).
"""

from __future__ import annotations

import re
import threading
from collections import OrderedDict

from django.conf import settings
from django.http.request import split_domain_port, validate_host

from core.state import process_state
from imagegen.api.image_files import image_headers, offload_location
from proxy import selectors
from proxy.object_store import read_image

PATH = re.compile(r"/images/([A-Za-z0-9_-]{1,64})\.([a-z0-9]{1,8})")


class ImageBytes:
    """A bounded LRU of token -> bytes, measured in bytes (``IMAGE_MEMORY_CACHE_MB``)."""

    def __init__(self) -> None:
        self._entries: OrderedDict[str, bytes] = OrderedDict()
        self._lock = threading.Lock()
        self.size = 0

    def get(self, token: str) -> bytes | None:
        with self._lock:
            body = self._entries.get(token)
            if body is not None:
                self._entries.move_to_end(token)
            return body

    def put(self, token: str, body: bytes) -> None:
        limit = settings.IMAGE_MEMORY_CACHE_MB * 1024 * 1024
        if len(body) > limit // 4:  # one image never takes most of the room
            return
        with self._lock:
            if token not in self._entries:
                self._entries[token] = body
                self.size += len(body)
            while self.size > limit:
                self.size -= len(self._entries.popitem(last=False)[1])


def _host_allowed(scope: dict) -> bool:
    if settings.USE_X_FORWARDED_HOST:
        return False  # Django's own rules (and their errors) apply
    host = next((value for key, value in scope["headers"] if key == b"host"), b"").decode("latin-1")
    domain, _ = split_domain_port(host)
    return bool(domain) and validate_host(domain, settings.ALLOWED_HOSTS)


def _wanted(scope: dict) -> re.Match | None:
    if scope["method"] != "GET" or any(key == b"if-none-match" for key, _ in scope["headers"]):
        return None
    return PATH.fullmatch(scope["path"])


async def serve(scope: dict, send) -> bool:
    """Answer the request and return True, or return False having sent nothing (see the module)."""
    wanted = _wanted(scope)
    if wanted is None or not _host_allowed(scope):
        return False
    token, ext = wanted.groups()
    stored = await selectors.stored_file(token)
    if stored is None or stored.removal or stored.extension != ext:
        return False
    headers = [(name.lower().encode("latin-1"), value.encode("latin-1")) for name, value in image_headers(stored)]
    if location := offload_location(stored):
        offload = settings.IMAGE_OFFLOAD_HEADER.lower().encode("latin-1")
        headers += [(offload, location.encode("latin-1")), (b"content-length", b"0")]
        body = b""
    else:
        body = await _image_bytes(token, stored)
        if body is None:
            return False
        headers.append((b"content-length", str(len(body)).encode("ascii")))
    await send({"type": "http.response.start", "status": 200, "headers": headers})
    await send({"type": "http.response.body", "body": body})
    return True


async def _image_bytes(token: str, stored: selectors.StoredFile) -> bytes | None:
    memory = process_state().slot(ImageBytes)
    body = memory.get(token)
    if body is None:
        try:
            body = await read_image(stored.file, stored.size)
        except Exception:  # noqa: BLE001  the view reads again and answers what went wrong (410, 404, 503)
            return None
        memory.put(token, body)
    return body
