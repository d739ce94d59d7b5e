"""Small builders for rows the tests need (no factory library: a few functions say it plainly)."""

from __future__ import annotations

from imagegen.client_keys import Caller
from imagegen.models import ClientKey
from vendors.models import ImageModel, Vendor, VendorKey
from vendors.selectors import ModelRoute, VendorRoute


def make_vendor(name="vendor", kind="siliconflow", base_url="http://127.0.0.1:9/v1", timeout=10.0, **extra) -> Vendor:
    return Vendor.objects.create(name=name, kind=kind, base_url=base_url, timeout=timeout, **extra)


def make_model(vendor: Vendor, name="flux-schnell", **extra) -> ImageModel:
    return ImageModel.objects.create(vendor=vendor, name=name, **extra)


def make_key(vendor: Vendor, secret: str, label="", **extra) -> VendorKey:
    key = VendorKey(vendor=vendor, label=label, **extra)
    key.secret = secret
    key.save()
    return key


def make_client_key(name="app") -> tuple[ClientKey, str]:
    key, raw = ClientKey.generate(name)
    key.save()
    return key, raw


def make_route(name="flux-schnell", vendor="sf", base_url="http://127.0.0.1:9/v1") -> ModelRoute:
    """A model's route as the routing table would give it, without rows (for code that only reads routes)."""
    vendor_route = VendorRoute(id=1, name=vendor, kind="siliconflow", base_url=base_url, timeout=10.0, keys=())
    return ModelRoute(name=name, upstream_name=name, default_size="", created=0, vendor=vendor_route)


def client_key_row(raw: str, name="app", **limits) -> ClientKey:
    """A client key row with a chosen raw value (as import_env makes one of AUTHORIZED_API_KEY)."""
    key = ClientKey(name=name, **limits)
    key.set_raw(raw)
    key.save()
    return key


# A caller without a row or limits, for tests that call the pipeline directly.
TEST_CALLER = Caller(client_key_id=None, label="tests")
