"""Serving stored images: ``/images/<token>.<ext>``, nothing else (never a ``?url=`` fetcher).

A stored image never changes, so answers carry a year-long immutable Cache-Control and the
content hash as ETag. This path is hot: it stays a plain async view (no DRF), with one query by
token that ``proxy.selectors`` mostly skips, then the bytes read from storage (``proxy.object_store``:
a worker thread for local disk, the shared async HTTP client for S3).
An image taken down or purged after its retention answers 410 Gone, from every worker within
``IMAGE_REMOVAL_CHECK_SECONDS`` of its removal (``proxy.selectors``).
"""

from __future__ import annotations

import logging

from django.conf import settings
from django.http import HttpRequest, HttpResponse
from django.views.decorators.csrf import csrf_exempt

from core.errors import GatewayError
from imagegen.api.errors import MethodNotAllowed, NotFound, answers_errors
from proxy import selectors
from proxy.models import StoredImage
from proxy.object_store import read_image, uses_s3

log = logging.getLogger(__name__)

CACHE_CONTROL = settings.IMAGE_CACHE_CONTROL
ALLOWED_METHODS = ("GET", "HEAD")


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


def _no_image() -> NotFound:
    return NotFound("No stored image has this URL.")


class ImageGone(GatewayError):
    status = 410

    def __init__(self, removal: str) -> None:
        if removal == StoredImage.Removal.EXPIRED:
            super().__init__("This image was deleted when its retention period ended.", code="image_expired")
        else:
            super().__init__("This image was taken down by the gateway's operator.", code="image_removed")


def offload_location(stored: selectors.StoredFile) -> str | None:
    """Where the reverse proxy finds the file (IMAGE_OFFLOAD_HEADER's value), or None: the gateway sends it."""
    if not settings.IMAGE_OFFLOAD_HEADER or uses_s3():
        return None
    return settings.IMAGE_OFFLOAD_PREFIX + stored.file


def image_headers(stored: selectors.StoredFile) -> list[tuple[str, str]]:
    """Every stored image's answer headers (Content-Type first), also used by ``image_fast_path``."""
    return [
        ("Content-Type", stored.content_type),
        ("Cache-Control", CACHE_CONTROL),
        ("ETag", f'"{stored.sha256}"'),
        ("Access-Control-Allow-Origin", "*"),
        ("Cross-Origin-Resource-Policy", "cross-origin"),  # embeddable from pages that set COEP
        ("X-Content-Type-Options", "nosniff"),  # API paths skip SecurityMiddleware (imagegen/asgi.py)
    ]


@csrf_exempt
@answers_errors
async def serve_image(request: HttpRequest, token: str, ext: str) -> HttpResponse:
    request.get_host()  # a Host not in ALLOWED_HOSTS: a 400 invalid_host (API paths skip CommonMiddleware)
    if request.method not in ALLOWED_METHODS:
        raise MethodNotAllowed(request.method, "images", ALLOWED_METHODS)
    stored = await selectors.stored_file(token)
    if stored is None or ext != stored.extension:
        raise _no_image()
    if stored.removal:
        raise ImageGone(stored.removal)
    headers = dict(image_headers(stored)[1:])  # HttpResponse sets Content-Type itself
    etag = headers["ETag"]
    if etag_matches(request.headers.get("If-None-Match", ""), etag):
        # No Content-Length: servers hold a 304 to the length it announces, and it has no body.
        return HttpResponse(status=304, content_type=stored.content_type, headers=headers)
    if request.method == "HEAD":
        response = HttpResponse(b"", content_type=stored.content_type, headers=headers)
        response["Content-Length"] = str(stored.size)
        return response
    if location := offload_location(stored):  # the reverse proxy sends the file
        response = HttpResponse(b"", content_type=stored.content_type, headers=headers)
        response[settings.IMAGE_OFFLOAD_HEADER] = location
        return response
    try:
        body = await read_image(stored.file, stored.size)
    except OSError:
        selectors.forget(token)
        now = await selectors.lookup(token)  # removed since this worker last looked at the stamp?
        if now is not None and now.removal:
            raise ImageGone(now.removal) from None
        log.warning("stored image %s has no readable file", stored.file)
        raise _no_image() from None
    response = HttpResponse(body, content_type=stored.content_type, headers=headers)
    response["Content-Length"] = str(len(body))
    return response
