"""Reading settings from the environment: each reader names the variable when its value is malformed.

``imagegen.settings`` and ``imagegen.gateway_settings`` read every variable through these, so a bad
value stops the start with an ``ImproperlyConfigured`` that says which variable and why.
"""

from __future__ import annotations

import environ
from django.core.exceptions import ImproperlyConfigured

env = environ.Env()


def read(kind: str, name: str, default):
    """Read one variable; a malformed value names the variable instead of a bare ValueError."""
    reader = getattr(env, kind)
    try:
        return reader(name, default=default)
    except (ValueError, TypeError) as exc:
        raise ImproperlyConfigured(f"{name}={env.str(name, default='')!r} is not a valid {kind}: {exc}") from exc


def positive(kind: str, name: str, default):
    value = read(kind, name, default)
    if value is not None and value <= 0:
        raise ImproperlyConfigured(f"{name} must be greater than 0 (got {value}).")
    return value


def boolean(name: str, default: bool) -> bool:
    raw = env.str(name, default="").strip().lower()
    if raw == "":
        return default
    if raw in {"1", "true", "yes", "on"}:
        return True
    if raw in {"0", "false", "no", "off"}:
        return False
    raise ImproperlyConfigured(f"{name}={raw!r} is not a boolean (use true or false).")
