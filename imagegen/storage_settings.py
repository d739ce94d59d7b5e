"""Where stored images go (``IMAGE_STORAGE``) and how answers link to them (``IMAGE_LINKS``).

``local`` (the embedded default) keeps them under ``MEDIA_ROOT``; ``s3`` puts them in an S3-compatible
bucket through django-storages, configured by django-storages' own names read from the environment
(``AWS_STORAGE_BUCKET_NAME``, ``AWS_S3_ENDPOINT_URL``, ...). ``imagegen.settings`` imports these.

Links are ``gateway`` (``/images/<token>.<ext>``, served by the gateway from storage) or ``public``
(``IMAGE_PUBLIC_BASE_URL`` + ``/`` + the object's key: the bucket, or a CDN in front of it, serves them).
"""

from django.core.exceptions import ImproperlyConfigured

from imagegen.env_reading import env, positive

IMAGE_STORAGE = env.str("IMAGE_STORAGE", default="local").strip().lower()
if IMAGE_STORAGE not in {"local", "s3"}:
    raise ImproperlyConfigured(f"IMAGE_STORAGE must be local or s3 (got {IMAGE_STORAGE!r}).")
# Each storage call (connecting, then each answer) gives up after this many seconds: an S3 that hangs
# fails the request that waits on it instead of holding it.
IMAGE_STORAGE_TIMEOUT = positive("float", "IMAGE_STORAGE_TIMEOUT", 10.0)

IMAGE_PUBLIC_BASE_URL = env.str("IMAGE_PUBLIC_BASE_URL", default="").strip().rstrip("/")
IMAGE_LINKS = env.str("IMAGE_LINKS", default="public" if IMAGE_PUBLIC_BASE_URL else "gateway").strip().lower()
if IMAGE_LINKS not in {"gateway", "public"}:
    raise ImproperlyConfigured(f"IMAGE_LINKS must be gateway or public (got {IMAGE_LINKS!r}).")
if IMAGE_LINKS == "public" and (IMAGE_STORAGE != "s3" or not IMAGE_PUBLIC_BASE_URL):
    raise ImproperlyConfigured("IMAGE_LINKS=public needs IMAGE_STORAGE=s3 and IMAGE_PUBLIC_BASE_URL.")
if IMAGE_LINKS == "gateway" and IMAGE_PUBLIC_BASE_URL:
    raise ImproperlyConfigured("IMAGE_PUBLIC_BASE_URL is set but IMAGE_LINKS=gateway: unset one of them.")
if IMAGE_PUBLIC_BASE_URL and not IMAGE_PUBLIC_BASE_URL.startswith(("https://", "http://")):
    raise ImproperlyConfigured(f"IMAGE_PUBLIC_BASE_URL must start with https:// (got {IMAGE_PUBLIC_BASE_URL!r}).")

# Written with every object: a stored image never changes (its name is its content hash).
IMAGE_CACHE_CONTROL = "public, max-age=31536000, immutable"


def s3_options() -> dict:
    """django-storages' S3Storage options, from its own setting names in the environment."""
    from boto3.s3.transfer import TransferConfig  # only with IMAGE_STORAGE=s3
    from botocore.config import Config

    bucket = env.str("AWS_STORAGE_BUCKET_NAME", default="").strip()
    if not bucket:
        raise ImproperlyConfigured("IMAGE_STORAGE=s3 needs AWS_STORAGE_BUCKET_NAME (the bucket images go to).")
    addressing = env.str("AWS_S3_ADDRESSING_STYLE", default="").strip().lower() or None
    if addressing not in {None, "auto", "path", "virtual"}:
        raise ImproperlyConfigured(f"AWS_S3_ADDRESSING_STYLE must be auto, path or virtual (got {addressing!r}).")
    timeout = IMAGE_STORAGE_TIMEOUT
    return {
        "bucket_name": bucket,
        "endpoint_url": env.str("AWS_S3_ENDPOINT_URL", default="").strip() or None,
        "region_name": env.str("AWS_S3_REGION_NAME", default="").strip() or None,
        # Empty: boto3's own chain (instance role, AWS_* of the container, ~/.aws) finds them.
        "access_key": env.str("AWS_ACCESS_KEY_ID", default="") or None,
        "secret_key": env.str("AWS_SECRET_ACCESS_KEY", default="") or None,
        "location": env.str("AWS_LOCATION", default="").strip().strip("/"),
        "addressing_style": addressing,
        "signature_version": "s3v4",  # every region and S3-compatible store takes it; v2 is gone from AWS
        # Objects stay private unless the bucket's policy (or a CDN) says otherwise: no per-object ACL.
        "default_acl": None,
        # Only storage.url() reads it (the gateway signs its own reads): plain URLs when links are public.
        "querystring_auth": IMAGE_LINKS == "gateway",
        # Names are content hashes: an object already under a name holds the same bytes, so writing it
        # again is harmless, and saves the lookup django-storages makes to find a free name otherwise.
        "file_overwrite": True,
        "object_parameters": {"CacheControl": IMAGE_CACHE_CONTROL},
        # Images are small: one PUT from the worker thread already writing, no transfer thread pool.
        "transfer_config": TransferConfig(use_threads=False),
        "client_config": Config(
            connect_timeout=timeout, read_timeout=timeout, retries={"mode": "standard", "max_attempts": 2}
        ),
    }


def image_storage_backend() -> dict:
    """``STORAGES["default"]``: where every stored image (and the readiness probe's file) goes."""
    if IMAGE_STORAGE == "local":
        return {"BACKEND": "django.core.files.storage.FileSystemStorage"}
    return {"BACKEND": "storages.backends.s3.S3Storage", "OPTIONS": s3_options()}
