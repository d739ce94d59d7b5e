"""What settings need to keep DATA_DIR private and to read the vendor-key encryption keys.

DATA_DIR holds the SQLite database (with every vendor key, encrypted), the shared cache, stored
images and, on the embedded defaults, the generated SECRET_KEY and encryption key. None of it is
for other users of the machine, so the process's umask makes every file the gateway (or a library
it uses: SQLite, diskcache) creates 0600 and every folder 0700, and the start closes DATA_DIR
itself, which also covers files that an older version left world-readable.
"""

from __future__ import annotations

import os
import stat
from collections.abc import Callable
from pathlib import Path

from cryptography.fernet import Fernet
from django.core.exceptions import ImproperlyConfigured

PRIVATE_UMASK = 0o077
GROUP_AND_OTHERS = stat.S_IRWXG | stat.S_IRWXO
# What the gateway itself puts in DATA_DIR; anything else there is the operator's business.
OWN_ENTRIES = (
    *("db.sqlite3", "db.sqlite3-wal", "db.sqlite3-shm", "db.sqlite3.gateway-lock", ".sqlite.gateway-lock"),
    *(".secret_key", ".encryption_key", "cache", "media"),
)


def private_data_dir(path: Path) -> None:
    """Create DATA_DIR as 0700, and take group and other permissions off it and off the gateway's files in it."""
    os.umask(PRIVATE_UMASK)
    path.mkdir(mode=0o700, parents=True, exist_ok=True)
    for entry in (path, *(path / name for name in OWN_ENTRIES)):
        _close(entry)


def _close(path: Path) -> None:
    try:
        mode = path.lstat().st_mode
        if mode & GROUP_AND_OTHERS and not stat.S_ISLNK(mode):
            path.chmod(stat.S_IMODE(mode) & ~GROUP_AND_OTHERS)
    except OSError:  # not there, or not ours (a mounted volume, another user's file): nothing to close
        pass


def kept_secret(path: Path, generate: Callable[[], str]) -> str:
    """The secret kept in ``path``, generated and written (0600) on first use.

    Two processes starting on an empty DATA_DIR at once must end up with the same secret, so it
    is written to a file of its own and linked into place, which fails if the other was first.
    """
    if not path.exists():
        draft = path.with_name(f"{path.name}.{os.getpid()}.new")
        draft.write_text(generate())
        draft.chmod(0o600)
        try:
            os.link(draft, path)
        except FileExistsError:
            pass
        finally:
            draft.unlink()
    return path.read_text().strip()


def encryption_keys(listed: list[str], older: str, kept_in: Path) -> list[str]:
    """ENCRYPTION_KEYS, then ENCRYPTION_KEY (the older single-key setting); with neither, the kept key."""
    keys = _fernet_keys("ENCRYPTION_KEYS", listed)
    keys += [key for key in _fernet_keys("ENCRYPTION_KEY", [older]) if key not in keys]
    return keys or [kept_secret(kept_in, lambda: Fernet.generate_key().decode())]


def _fernet_keys(name: str, values: list[str]) -> list[str]:
    """The non-empty entries of a comma-separated list of Fernet keys, each checked."""
    keys = [value.strip() for value in values if value.strip()]
    for position, key in enumerate(keys, start=1):
        try:
            Fernet(key.encode())
        except ValueError as exc:
            raise ImproperlyConfigured(
                f"{name}: entry {position} is not a Fernet key (32 url-safe base64-encoded bytes; make one with "
                'python -c "from cryptography.fernet import Fernet; print(Fernet.generate_key().decode())").'
            ) from exc
    return keys
