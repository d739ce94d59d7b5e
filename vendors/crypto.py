"""Encryption at rest for vendor keys (Fernet: AES-128-CBC with an HMAC).

The key comes from ENCRYPTION_KEY, or is derived from SECRET_KEY when that is not set. Rotating
either makes existing vendor keys unreadable, so the README tells operators to keep them.
"""

import base64
import hashlib
import hmac
from functools import lru_cache

from cryptography.fernet import Fernet, InvalidToken
from django.conf import settings
from django.core.exceptions import ImproperlyConfigured


@lru_cache(maxsize=4)
def _fernet(encryption_key: str, secret_key: str) -> Fernet:
    if encryption_key:
        try:
            return Fernet(encryption_key.encode())
        except ValueError as exc:
            raise ImproperlyConfigured(
                "ENCRYPTION_KEY must be 32 url-safe base64-encoded bytes "
                '(python -c "from cryptography.fernet import Fernet; print(Fernet.generate_key().decode())").'
            ) from exc
    derived = hashlib.sha256(b"imagegen-vendor-keys:" + secret_key.encode()).digest()
    return Fernet(base64.urlsafe_b64encode(derived))


def _current() -> Fernet:
    return _fernet(settings.ENCRYPTION_KEY, settings.SECRET_KEY)


def encrypt(secret: str) -> str:
    return _current().encrypt(secret.encode()).decode()


def decrypt(token: str) -> str:
    try:
        return _current().decrypt(token.encode()).decode()
    except InvalidToken as exc:
        raise ImproperlyConfigured(
            "A stored vendor key cannot be decrypted: ENCRYPTION_KEY or SECRET_KEY changed since it was saved."
        ) from exc


def fingerprint(secret: str) -> str:
    """A stable keyed hash of a secret, so the same key can be recognised without decrypting."""
    return hmac.new(settings.SECRET_KEY.encode(), secret.encode(), hashlib.sha256).hexdigest()
