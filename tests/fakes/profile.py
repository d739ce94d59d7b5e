"""What the suite needs to know to run a vendor kind against its fake: one ``PROFILE`` per fake module.

Every kind in the registry (``vendors.adapters``) has a fake in ``tests/fakes/<kind>.py`` that declares

    PROFILE = KindProfile(fake=SiliconFlowFake, path="/v1", model="...", moderated="moderated", bad_key="invalid")

and the kind tests read them from there (image kinds: ``tests/api/test_vendor_kinds.py``; chat kinds:
``tests/vendors/test_services.py``), so a new kind is tested the moment its fake declares its profile, and a
kind without one fails the suite.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from importlib import import_module
from typing import Any


def plain_token(fake: Any, token: str) -> str:
    """The vendor row holds the API token itself."""
    return token


@dataclass(frozen=True)
class KindProfile:
    fake: type  # the fake server class (a ``VendorFake``)
    path: str  # appended to the fake's URL to make the vendor's base URL
    model: str  # an upstream model name the fake serves
    moderated: str | None  # the fake's behaviour for a moderation refusal (None: the vendor documents none)
    bad_key: str  # the fake's behaviour for a key it refuses
    key_format: Callable[[Any, str], str] = plain_token  # (fake, API token) -> the secret stored on the key row

    def secret(self, fake: Any, token: str) -> str:
        return self.key_format(fake, token)


def profile_of(kind: str) -> KindProfile:
    """The profile declared by ``tests/fakes/<kind>.py``; ImportError or AttributeError when there is none."""
    return import_module(f"tests.fakes.{kind}").PROFILE
