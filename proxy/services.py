"""Storing a generated image for good: take it from the vendor, verify it, keep it, give it a token.

The bytes are stored content-addressed (``images/<sha[:2]>/<sha256>.<ext>``) through Django's
storage API, so the same picture is written once however many rows point at it. Every call makes
a new :class:`StoredImage` row with a fresh random token: the token, not the hash, makes the URL.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import io
import logging
from dataclasses import asdict, dataclass, field
from datetime import timedelta

from django.conf import settings
from django.core.files.base import ContentFile
from django.core.files.storage import default_storage
from django.db import transaction
from django.utils import timezone
from PIL import Image

from core import rows
from core.db import run_blocking, run_db
from core.fetch import ImageFetchFailed, fetch_image_bytes, origin, too_large
from proxy.file_lock import file_lock
from proxy.image_slots import image_slot
from proxy.models import StoredImage
from proxy.object_store import StorageWriteFailed, describe, open_stored, public_link, read_stored, storage_writes

__all__ = ["ImageFetchFailed", "open_stored", "public_url", "read_stored", "store_image", "storage_name"]

log = logging.getLogger(__name__)

# Pillow format -> (Content-Type, extension). Only these parsers are ever run on vendor bytes.
FORMATS = {
    "PNG": ("image/png", "png"),
    "JPEG": ("image/jpeg", "jpg"),
    "WEBP": ("image/webp", "webp"),
    "GIF": ("image/gif", "gif"),
}


@dataclass(frozen=True)
class _Verified:
    sha256: str
    content_type: str
    extension: str
    width: int
    height: int


@dataclass(frozen=True)
class PreparedImage:
    """A verified image whose bytes are in storage, not yet recorded as a ``StoredImage``."""

    sha256: str
    file: str
    content_type: str
    extension: str
    width: int
    height: int
    byte_size: int
    vendor: str
    # The bytes, kept only when the file was already in storage (another image's): they are written
    # again if a purge deleted that file before this image's row was recorded (``proxy.file_lock``).
    reused_bytes: bytes | None = field(default=None, repr=False)

    def row_fields(self) -> dict:
        fields = asdict(self)
        del fields["reused_bytes"]
        return fields


def storage_name(sha256: str, extension: str) -> str:
    return f"images/{sha256[:2]}/{sha256}.{extension}"


def _decode_b64(text: str) -> bytes:
    """Plain base64 (standard or URL-safe, padding optional) or a ``data:image/...;base64,`` URL."""
    if text.startswith("data:"):
        header, sep, text = text.partition(",")
        if not sep or not header.endswith(";base64"):
            raise ImageFetchFailed("the vendor returned an invalid base64 image")
    compact = "".join(text.split())
    # Four base64 characters carry three bytes: refuse an oversized image before decoding it.
    if len(compact) // 4 * 3 > settings.IMAGE_MAX_BYTES + 3:
        raise too_large()
    compact += "=" * (-len(compact) % 4)
    altchars = b"-_" if ("-" in compact or "_" in compact) else None
    try:
        return base64.b64decode(compact, altchars=altchars, validate=True)
    except (binascii.Error, ValueError) as exc:
        raise ImageFetchFailed("the vendor returned an invalid base64 image") from exc


def _verify(data: bytes) -> _Verified:
    """Hash and check the bytes with Pillow (CPU work: runs in a worker thread)."""
    not_an_image = "the vendor returned something that is not an image (PNG, JPEG, WebP or GIF)"
    allowed = list(FORMATS)
    try:
        with Image.open(io.BytesIO(data), formats=allowed) as probe:
            image_format, (width, height) = probe.format, probe.size  # read from the header by open()
            probe.verify()  # the whole file's structure (and its checksums), without decoding the pixels
    except Exception as exc:  # Pillow raises many types (OSError, SyntaxError, DecompressionBombError, ...)
        raise ImageFetchFailed(not_an_image) from exc
    if image_format not in FORMATS or width <= 0 or height <= 0:
        raise ImageFetchFailed(not_an_image)
    content_type, extension = FORMATS[image_format]
    return _Verified(hashlib.sha256(data).hexdigest(), content_type, extension, width, height)


def _image_file(data: bytes, content_type: str) -> ContentFile:
    """The bytes for the storage; an S3 object is written with this Content-Type (local disk ignores it)."""
    content = ContentFile(data)
    content.content_type = content_type
    return content


def _save(name: str, data: bytes, content_type: str) -> tuple[str, bool]:
    """Write once: content-addressed names make an existing file the same bytes. (name, whether it existed)"""
    if default_storage.exists(name):
        return name, True
    # Two workers storing the same bytes at once may both get here; local disk then picks a second
    # name for the later one (still correct, only not deduplicated), S3 writes the same object twice.
    return default_storage.save(name, _image_file(data, content_type)), False


async def prepare_image(
    *,
    url: str | None = None,
    b64: str | None = None,
    data: bytes | None = None,
    content_type: str | None = None,
    vendor: str = "",
    trusted_origins: frozenset[str] = frozenset(),
) -> PreparedImage:
    """Fetch or decode one image, verify it and write its bytes to storage; the row comes later.

    Exactly one of ``url``, ``b64`` (plain base64 or a data URL) and ``data`` (raw bytes) is
    given. ``content_type`` is the vendor's claim and only logged when Pillow disagrees: the
    stored type is what the bytes are. URLs on ``trusted_origins`` (scheme, host and port) may
    resolve to private addresses (see :mod:`core.fetch`). Every failure is an :class:`ImageFetchFailed`.
    """
    sources = [source for source in (url, b64, data) if source is not None]
    if len(sources) > 1:
        raise ValueError("store_image takes exactly one of url, b64 and data")
    if not sources or not sources[0]:
        raise ImageFetchFailed("the vendor returned no image")

    async with image_slot(origin(url) if url is not None else ""):
        if url is not None:
            data, declared = await fetch_image_bytes(url, trusted_origins=trusted_origins)
            content_type = content_type or declared
        elif b64 is not None:
            data = _decode_b64(b64)
        if len(data) > settings.IMAGE_MAX_BYTES:
            raise too_large()
        return await run_blocking(_verify_and_write, data, content_type, vendor)


def _verify_and_write(data: bytes, content_type: str | None, vendor: str) -> PreparedImage:
    verified = _verify(data)
    if content_type and content_type.split(";", 1)[0].strip().lower() != verified.content_type:
        log.info("vendor %s said %s for a %s image", vendor or "?", content_type, verified.content_type)
    name = storage_name(verified.sha256, verified.extension)
    try:
        stored_name, reused = _save(name, data, verified.content_type)
    except Exception as exc:  # local disk or an S3-compatible backend: each has its own errors
        storage_writes().failing = True
        # The kind only: botocore's text can name the endpoint and bucket, never needed by a client.
        log.error("could not write image %s to storage (%s)", name, describe(exc))
        raise StorageWriteFailed("the image could not be written to storage") from None
    storage_writes().failing = False
    return PreparedImage(
        sha256=verified.sha256,
        file=stored_name,
        content_type=verified.content_type,
        extension=verified.extension,
        width=verified.width,
        height=verified.height,
        byte_size=len(data),
        vendor=vendor,
        reused_bytes=data if reused else None,
    )


def record_images(prepared: list[PreparedImage], *, model: str = "", keep_days: int | None = None) -> list[StoredImage]:
    """Rows for prepared images (sync; callers put it in the same transaction as their own rows).

    ``model`` made them; ``keep_days`` (None: forever) sets their expiry, from now: fixed when stored, so a
    later change of the model's retention applies to the images stored after it.
    """
    expires_at = timezone.now() + timedelta(days=keep_days) if keep_days else None
    images = [StoredImage(**image.row_fields(), model=model[:200], expires_at=expires_at) for image in prepared]
    reused = [image for image in prepared if image.reused_bytes is not None]
    if reused:
        transaction.on_commit(lambda: _keep_reused_files(reused))
    return rows.insert(images)


def _keep_reused_files(prepared: list[PreparedImage]) -> None:
    """After the rows are committed: a reused file that a purge deleted meanwhile is written again."""
    for image in prepared:
        try:
            with file_lock(image.file):
                if default_storage.exists(image.file):
                    continue
                log.warning("image file %s was purged while a new image reused it; writing it again", image.file)
                written = default_storage.save(image.file, _image_file(image.reused_bytes, image.content_type))
                if written != image.file:  # another writer put it back first
                    default_storage.delete(written)
        except Exception:  # the image is stored and paid for: never fail the answer here
            log.exception("could not make sure image file %s is still in storage", image.file)


async def store_image(**source) -> StoredImage:
    """Prepare one image and record it: ``prepare_image``'s arguments, a saved ``StoredImage``."""
    prepared = await prepare_image(**source)
    return (await run_db(record_images, [prepared]))[0]


def public_url(image: StoredImage, request=None) -> str:
    """The permanent URL: with IMAGE_LINKS=public the object's own public URL (``object_store.public_link``),
    else the gateway's: PUBLIC_BASE_URL + path when set, else built from the request's host.

    The host is one of ALLOWED_HOSTS: ``build_absolute_uri`` goes through ``get_host``, which the
    API edge has already called before any vendor was (so a bad Host is a 400 then, never a 500
    after paying). Without either, the bare path (``/images/<token>.<ext>``) is returned.
    """
    link = public_link(image.file)
    if link:
        return link
    base = (settings.PUBLIC_BASE_URL or "").rstrip("/")
    if base:
        return base + image.path
    if request is not None:
        return request.build_absolute_uri(image.path)
    return image.path
