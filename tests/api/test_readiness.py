"""``/health/ready``: the dependencies and the models that can be served; 503 only when none can."""

from __future__ import annotations

import time

import pytest
from django.core.cache import cache

from tests.factories import make_key, make_model, make_vendor
from vendors.keys import cooldown_key
from vendors.models import VendorKey
from vendors.probes import restore_key

pytestmark = pytest.mark.django_db(transaction=True)  # the view reads the routing table on the database threads

CHECKS_OK = {"database": "ok", "cache": "ok", "storage": "ok"}


def ready(client):
    response = client.get("/health/ready", HTTP_HOST="10.1.2.3:8000")  # any Host, no key, like /health
    return response.status_code, response.json()


@pytest.fixture
def served():
    """flux, served by a vendor with one key."""
    vendor = make_vendor("sf")
    key = make_key(vendor, "sk-sf-key-000000000001", "main")
    make_model(vendor, "flux")
    return key


def test_with_every_model_keyed_it_is_ready_and_ok(client, served):
    assert ready(client) == (
        200,
        {"status": "ok", "checks": CHECKS_OK, "models": {"total": 1, "servable": 1, "without_usable_key": []}},
    )


def test_a_model_without_a_usable_key_is_listed_but_the_gateway_stays_ready(client, served):
    keyless = make_vendor("bare")
    make_model(keyless, "lonely")
    make_model(keyless, "covered", fallback=served.vendor.models.get())
    make_key(keyless, "sk-bare-key-00000000001", "off", enabled=False)

    status, body = ready(client)

    assert status == 200 and body["status"] == "degraded"
    assert body["models"]["total"] == 3 and body["models"]["servable"] == 2
    reason = "no usable key: none is configured, or every key is disabled or auto-disabled"
    assert body["models"]["without_usable_key"] == [
        {"model": "covered", "vendor": "bare", "reason": reason, "retry_after": None, "served_by": "flux"},
        {"model": "lonely", "vendor": "bare", "reason": reason, "retry_after": None, "served_by": None},
    ]
    assert "sk-bare" not in str(body)


def test_with_every_key_resting_no_model_can_be_served_until_one_is_back(client, served):
    cache.set(cooldown_key(served.id), time.time() + 42, timeout=42)

    status, body = ready(client)

    assert status == 503 and body["status"] == "unavailable" and body["checks"] == CHECKS_OK
    [flux] = body["models"]["without_usable_key"]
    assert flux["served_by"] is None and 40 <= flux["retry_after"] <= 42
    assert "resting" in flux["reason"]
    cache.delete(cooldown_key(served.id))
    assert ready(client)[0] == 200


def test_an_auto_disabled_key_makes_its_model_unservable_until_a_probe_restores_it(client, served):
    VendorKey.objects.filter(pk=served.pk).update(status=VendorKey.Status.AUTO_DISABLED)
    served.vendor.save()  # a save drops the routing table, as the key loop does when it disables a key

    assert ready(client)[0] == 503
    assert restore_key(served.id, "its probe passed")
    status, body = ready(client)
    assert status == 200 and body["status"] == "ok" and body["models"]["servable"] == 1


def test_no_model_at_all_is_not_ready(client):
    assert ready(client) == (
        503,
        {"status": "unavailable", "checks": CHECKS_OK, "models": {"total": 0, "servable": 0, "without_usable_key": []}},
    )


def test_storage_that_cannot_take_an_image_is_not_ready_whatever_the_keys(client, served, settings, tmp_path):
    settings.MEDIA_ROOT = str(tmp_path / "a-file")
    (tmp_path / "a-file").write_text("not a folder")

    status, body = ready(client)

    assert status == 503 and body["status"] == "unavailable"
    assert body["checks"]["storage"] == "unreachable" and body["models"]["servable"] == 1
