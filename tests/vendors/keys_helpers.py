"""Driving the key loop without HTTP: vendor rows turned into a route, and an attempt whose answers the test picks."""

from __future__ import annotations

import asyncio
from collections.abc import Callable

from tests.factories import make_key, make_vendor
from vendors import errors
from vendors.keys import KeyedResult, call_with_keys
from vendors.models import Vendor
from vendors.selectors import KeyRef, VendorRoute

Failure = Callable[[KeyRef], errors.UpstreamError]


def vendor_with_keys(*labels: str, name: str = "acme") -> tuple[Vendor, VendorRoute]:
    """A vendor row with one key row per label, and the route the key loop is handed for it."""
    vendor = make_vendor(name=name)
    rows = [make_key(vendor, f"sk-{name}-{label}-secret-{n:04d}", label=label) for n, label in enumerate(labels)]
    keys = tuple(KeyRef(id=row.id, label=row.label, secret=row.secret) for row in rows)
    return vendor, route_of(vendor, keys)


def route_of(vendor: Vendor, keys: tuple[KeyRef, ...]) -> VendorRoute:
    return VendorRoute(
        id=vendor.id, name=vendor.name, kind=vendor.kind, base_url=vendor.base_url, timeout=vendor.timeout, keys=keys
    )


def failing(cls: type[errors.UpstreamError], text: str = "the vendor said no", **kwargs) -> Failure:
    """An error of ``cls`` for the key at hand; the message quotes the key's secret, as careless vendors do."""
    return lambda key: cls(f"{text} (key {key.secret})", **kwargs)


class Upstream:
    """An ``attempt`` answering per key label: the failure set for the label, else a value naming the key."""

    def __init__(self, **answers: Failure) -> None:
        self.answers = answers
        self.tried: list[str] = []
        self.calls: list[list[str]] = []  # the labels tried, per call_with_keys

    async def __call__(self, key: KeyRef) -> str:
        self.tried.append(key.label)
        self.calls[-1].append(key.label)
        answer = self.answers.get(key.label)
        if answer is not None:
            raise answer(key)
        return f"image from {key.label}"

    def call(self, route: VendorRoute) -> KeyedResult[str]:
        """One ``call_with_keys`` in a fresh event loop, as each request of the sync test client gets."""
        self.calls.append([])
        return asyncio.run(call_with_keys(route, self))

    def failure(self, route: VendorRoute) -> errors.UpstreamError:
        """The error one call ends with (AssertionError when it succeeds)."""
        try:
            result = self.call(route)
        except errors.UpstreamError as exc:
            return exc
        raise AssertionError(f"the call succeeded with {result.key_label}")
