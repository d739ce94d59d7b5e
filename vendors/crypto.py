"""Encryption at rest for vendor keys (Fernet: AES-128-CBC with an HMAC), with a list of keys.

A vendor key is encrypted with the first of ``settings.ENCRYPTION_KEYS`` and decrypted with any
of them, so a new key can go in front while rows written with the old one stay readable until
``manage.py rotate_encryption_key`` has re-encrypted them. Before the key list, the key was derived
from SECRET_KEY; that derivation is tried last, only to read rows an older version wrote (the
migration that came with the list re-encrypts them, so it matters only for rows it could not read).

The fingerprint, which recognises a key already stored without decrypting anything, is a plain
SHA-256 of the secret. It depends on no setting, so changing SECRET_KEY or rotating the encryption
keys never makes the same vendor key look new. The cost: a copy of the database lets its holder
confirm a vendor key they already have. Vendor API keys are long random strings, so the hash
reveals nothing else; a keyed hash would hide even that but would have to change with the key.
"""

import base64
import hashlib
from functools import lru_cache

from cryptography.fernet import Fernet, InvalidToken, MultiFernet
from django.conf import settings
from django.core.exceptions import ImproperlyConfigured

FINGERPRINT_CONTEXT = b"imagegen vendor key\x00"


def legacy_key(secret_key: str) -> Fernet:
    """The key older versions derived from SECRET_KEY when ENCRYPTION_KEY was not set."""
    derived = hashlib.sha256(b"imagegen-vendor-keys:" + secret_key.encode()).digest()
    return Fernet(base64.urlsafe_b64encode(derived))


@lru_cache(maxsize=8)
def _keyring(keys: tuple[str, ...], secret_key: str) -> MultiFernet:
    if not keys:
        raise ImproperlyConfigured("ENCRYPTION_KEYS is empty: vendor keys need a key to be encrypted with.")
    return MultiFernet([*(Fernet(key.encode()) for key in keys), legacy_key(secret_key)])


def _current() -> MultiFernet:
    return _keyring(tuple(settings.ENCRYPTION_KEYS), settings.SECRET_KEY)


def encrypt(secret: str) -> str:
    return _current().encrypt(secret.encode()).decode()


def decrypt(token: str) -> str:
    try:
        return _current().decrypt(token.encode()).decode()
    except InvalidToken as exc:
        raise ImproperlyConfigured(
            "A stored vendor key cannot be decrypted with any key in ENCRYPTION_KEYS: "
            "it was written with a key that is no longer in the list."
        ) from exc


def fingerprint(secret: str) -> str:
    """A stable hash of a secret, so the same key can be recognised without decrypting (see above)."""
    return hashlib.sha256(FINGERPRINT_CONTEXT + secret.encode()).hexdigest()
