"""Reading stored images back, and linking to them, whichever storage holds them (``IMAGE_STORAGE``).

On local disk a read is a short file read in a worker thread. In an S3 bucket it is a network wait,
which must not hold a thread per request: the gateway signs a short-lived GET for the object (a local
computation, in a worker thread) and downloads it through the shared async HTTP client (``core.http``),
within ``IMAGE_STORAGE_TIMEOUT`` and a byte cap. The signed URL carries the access key's id and a
signature, so it is never logged nor shown; a failure names only its kind.
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass
from urllib.parse import quote

import httpx
from botocore.exceptions import BotoCoreError, ClientError
from django.conf import settings
from django.core.files.storage import default_storage

from core.db import run_blocking
from core.errors import GatewayError
from core.fetch import ImageFetchFailed, read_at_most
from core.http import get_client
from core.state import process_state

log = logging.getLogger(__name__)

SIGNED_URL_SECONDS = 300  # only this process uses it, at once
# What a storage call raises when the disk or the bucket fails (botocore's are not OSErrors).
STORAGE_ERRORS = (OSError, BotoCoreError, ClientError)


class StorageUnavailable(GatewayError):
    """Image storage did not answer, or refused: the image exists but cannot be read now."""

    status, code = 503, "image_storage_unavailable"

    def __init__(self) -> None:
        super().__init__("Image storage is not answering; try again shortly.", headers={"Retry-After": "5"})


class StorageWriteFailed(ImageFetchFailed):
    """The image could not be written to storage: the gateway's own failure, not the vendor's."""

    status, code, error_type = 503, "image_storage_unavailable", "server_error"


@dataclass
class StorageWrites:
    """Whether this process's last image write failed. While it has, every request first asks storage
    (``imagegen.api.dependencies.preflight``): a vendor is not paid for an image that cannot be kept."""

    failing: bool = False


def storage_writes() -> StorageWrites:
    return process_state().slot(StorageWrites)


def uses_s3() -> bool:
    return settings.IMAGE_STORAGE == "s3"


def object_key(name: str) -> str:
    """The object's key in the bucket: ``AWS_LOCATION`` (the prefix), then the stored name."""
    location = settings.STORAGES["default"].get("OPTIONS", {}).get("location", "")
    return f"{location}/{name}" if location else name


def public_link(name: str) -> str | None:
    """``IMAGE_PUBLIC_BASE_URL/<object key>`` when links are public, else None (the gateway serves it)."""
    if settings.IMAGE_LINKS != "public":
        return None
    return f"{settings.IMAGE_PUBLIC_BASE_URL}/{quote(object_key(name))}"


def describe(exc: BaseException) -> str:
    """The kind of a storage failure, for the log: botocore's error code when it has one, never its text."""
    answer = getattr(exc, "response", None)
    code = answer.get("Error", {}).get("Code") if isinstance(answer, dict) else None
    return f"{type(exc).__name__} {code}" if code else type(exc).__name__


def open_stored(image):
    """The stored file (a ``StoredImage`` or its file name), opened for reading (blocking: from a thread)."""
    return default_storage.open(getattr(image, "file", image), "rb")


def read_stored(image) -> bytes:
    """All the stored bytes (blocking: call it from a thread in async code; ``read_image`` from async code)."""
    with open_stored(image) as handle:
        return handle.read()


def _signed_get(name: str) -> str:
    client = default_storage.connection.meta.client
    params = {"Bucket": default_storage.bucket_name, "Key": object_key(name)}
    return client.generate_presigned_url("get_object", Params=params, ExpiresIn=SIGNED_URL_SECONDS)


async def read_image(name: str, size: int = 0) -> bytes:
    """The stored bytes of ``name``; FileNotFoundError when storage has no such file, StorageUnavailable
    when the bucket does not answer. ``size`` is the stored byte count (the cap is the larger of it
    and IMAGE_MAX_BYTES)."""
    if not uses_s3():
        return await asyncio.to_thread(read_stored, name)  # a short file read, as before S3 existed
    try:
        url = await run_blocking(_signed_get, name)
    except Exception as exc:  # credentials that cannot be found or refreshed
        log.error("could not sign a read of image %s (%s)", name, describe(exc))
        raise StorageUnavailable() from None
    return await _download(name, url, max(size, settings.IMAGE_MAX_BYTES))


async def _download(name: str, url: str, cap: int) -> bytes:
    client = get_client()
    request = client.build_request("GET", url, timeout=httpx.Timeout(settings.IMAGE_STORAGE_TIMEOUT))
    try:
        response = await client.send(request, stream=True, follow_redirects=False)
        try:
            if response.status_code == 404:
                raise FileNotFoundError(name)
            if response.status_code != 200:
                log.error("image storage answered HTTP %s reading %s", response.status_code, name)
                raise StorageUnavailable()
            return await _read_capped(name, response, cap)
        finally:
            await response.aclose()
    except httpx.HTTPError as exc:
        log.error("image storage did not answer reading %s (%s)", name, type(exc).__name__)
        raise StorageUnavailable() from None


async def _read_capped(name: str, response: httpx.Response, cap: int) -> bytes:
    body = await read_at_most(response, cap)
    if body is None:
        log.error("stored image %s is larger than %s bytes in storage", name, cap)
        raise StorageUnavailable()
    return body
