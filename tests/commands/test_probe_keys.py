"""``manage.py probe_keys``: free probes against a fake vendor; auto-disabled keys that pass come back."""

from __future__ import annotations

import asyncio
from io import StringIO

import pytest
from django.core.cache import cache
from django.core.management import CommandError, call_command

from tests.factories import make_key, make_model, make_vendor
from tests.fakes.siliconflow import SiliconFlowFake
from vendors.adapters.base import ImageRequest
from vendors.keys import cooldown_key
from vendors.models import VendorKey
from vendors.selectors import invalidate_routing_table, route_for
from vendors.services import generate_images

pytestmark = pytest.mark.django_db(transaction=True)  # a generation reads keys on the database threads

GOOD, BAD, HEALED = "sk-good-000000000000001", "sk-bad-0000000000000002", "sk-back-00000000000003"


@pytest.fixture
def fake():
    with SiliconFlowFake(keys={BAD: "invalid"}) as server:
        yield server


@pytest.fixture
def vendor(fake):
    vendor = make_vendor("sf", base_url=fake.url + "/v1")
    make_model(vendor, "flux", upstream_name="black-forest-labs/FLUX.1-schnell")
    return vendor


def probe(*args) -> str:
    out = StringIO()
    call_command("probe_keys", *args, stdout=out)
    return out.getvalue()


def disabled(vendor, secret: str, label: str) -> VendorKey:
    key = make_key(vendor, secret, label, status=VendorKey.Status.AUTO_DISABLED, failure_count=3, last_error="x")
    cache.set(cooldown_key(key.id), 0.0, timeout=3600)  # as the key loop leaves an auto-disabled key
    return key


def test_an_auto_disabled_key_whose_probe_passes_serves_again_and_a_refused_one_stays_out(fake, vendor):
    back, still_bad = disabled(vendor, HEALED, "back"), disabled(vendor, BAD, "bad")
    active = make_key(vendor, GOOD, "active")

    output = probe()

    back.refresh_from_db(), still_bad.refresh_from_db()
    assert back.status == VendorKey.Status.ACTIVE and back.failure_count == 0
    assert still_bad.status == VendorKey.Status.AUTO_DISABLED
    assert "sf back: passed in " in output and "balance 12.88" in output and "back in rotation" in output
    assert "sf bad: refused" in output and "(HTTP 401)" in output
    assert "Probed 2 key(s): 1 passed, 1 refused, 0 without a verdict; 1 back in rotation." in output
    assert GOOD not in output and HEALED not in output and BAD not in output and "://" not in output
    assert {request.path for request in fake.requests} == {"/v1/user/info"}  # nothing generated
    sent = sorted(request.headers["Authorization"].split(" ", 1)[1] for request in fake.requests)
    assert sent == sorted([HEALED, BAD])  # only the auto-disabled keys were probed

    # The healed key is used again (the active one is disabled by the operator to be sure).
    VendorKey.objects.filter(pk=active.pk).update(enabled=False)
    made = _generate_one()
    assert made.key_labels == ["back"]


def _generate_one():
    invalidate_routing_table()

    async def go():
        route = await route_for("flux")
        return await generate_images(route, ImageRequest(prompt="a cube", model=route.upstream_name))

    return asyncio.run(go())


def test_all_probes_every_key_and_dry_run_changes_nothing(fake, vendor):
    make_key(vendor, GOOD, "active")
    key = disabled(vendor, HEALED, "back")

    output = probe("--all", "--dry-run")

    key.refresh_from_db()
    assert key.status == VendorKey.Status.AUTO_DISABLED
    assert "Probed 2 key(s): 2 passed, 0 refused, 0 without a verdict; 0 back in rotation." in output


def test_a_vendor_down_gives_no_verdict_and_the_key_stays_out(fake, vendor):
    key = disabled(vendor, HEALED, "back")
    fake.keys[HEALED] = "server_error"

    output = probe("--vendor", "sf")

    key.refresh_from_db()
    assert key.status == VendorKey.Status.AUTO_DISABLED
    assert "sf back: no verdict" in output and "0 back in rotation" in output


def test_an_unknown_vendor_is_named():
    with pytest.raises(CommandError, match="No vendor named 'nope'"):
        probe("--vendor", "nope")
