"""The dashboard, the alert list, the Vendors list and the key pages in a real browser (headless Chromium): they
render, the charts draw from the
gateway's own Chart.js file with no JavaScript error and nothing failing to load, and screenshots are saved.

Screenshots go to $SCREENSHOT_DIR when it is set, else to the test's tmp_path. Skipped without Chromium."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest
from django.conf import settings as django_settings

from imagegen.models import Alert, Generation, VendorAttempt
from tests.admin.chromium import Browser, chromium_path
from tests.factories import make_key, make_vendor

pytestmark = [
    pytest.mark.django_db(transaction=True),
    pytest.mark.skipif(chromium_path() is None, reason="no Chromium installed"),
]


def some_traffic() -> None:
    now = datetime.now(UTC)
    vendor = make_vendor(name="siliconflow")
    for n, status in enumerate(["active", "active", "auto_disabled"]):
        make_key(vendor, f"sk-dashboard-key-{n:04d}", label=f"k{n}", status=status)
    for day in range(12):
        for n in range(day % 4 + 1):
            for model, vendor_name, client in [("flux-schnell", "siliconflow", "team-a"), ("sdxl", "fal", "team-b")]:
                row = Generation.objects.create(
                    model=model,
                    served_model=model,
                    vendor_name=vendor_name,
                    client_label=client,
                    status="success",
                    image_count=1,
                    latency_ms=1500 + 700 * n + 100 * day,
                    vendor_cost=Decimal("0.02"),
                )
                at = now - timedelta(days=day, minutes=n)
                Generation.objects.filter(pk=row.pk).update(created_at=at)
                outcome = "upstream_unavailable" if (day + n) % 5 == 0 else "ok"
                VendorAttempt.objects.create(
                    generation=row, vendor_name=vendor_name, model=model, started_at=at, outcome=outcome
                )
    Alert.objects.create(
        kind="key_auto_disabled",
        subject="siliconflow / k2",
        text="imagegen: key 'k2' of vendor 'siliconflow' was auto-disabled (upstream_key_rejected: rejected).",
        delivered=True,
    )
    Alert.objects.create(
        kind="model_no_key",
        subject="sdxl",
        text="imagegen: model 'sdxl' has no usable key.",
        error="the webhook answered HTTP 500",
    )


def test_the_dashboard_and_the_alert_list_render_in_chromium(admin_client, live_server, shots, tmp_path):
    some_traffic()
    cookies = {django_settings.SESSION_COOKIE_NAME: admin_client.cookies[django_settings.SESSION_COOKIE_NAME].value}

    with Browser.start(tmp_path / "profile") as browser:
        dashboard = browser.visit(
            f"{live_server.url}/admin/imagegen/dashboard/",
            cookies=cookies,
            png=shots / "dashboard.png",
            evaluate="Object.keys(Chart.instances).length",
        )
        alerts = browser.visit(
            f"{live_server.url}/admin/imagegen/alert/",
            cookies=cookies,
            png=shots / "alerts.png",
            evaluate="document.querySelectorAll('#result_list tbody tr').length",
        )

    assert dashboard.errors == [] and dashboard.value == 9  # six per-day charts, two vendor charts, the keys
    assert alerts.errors == [] and alerts.value == 2
    assert (shots / "dashboard.png").stat().st_size > 20_000 and (shots / "alerts.png").stat().st_size > 5_000


def test_the_vendor_and_key_pages_show_key_health_in_chromium(admin_client, live_server, shots, tmp_path):
    some_traffic()
    key = make_key(
        make_vendor(name="fal", kind="fal"),
        "sk-dashboard-key-fal1",
        label="resting",
        status="cooling",
        status_reason="upstream_rate_limited: slow down",
        cooling_until=datetime.now(UTC) + timedelta(minutes=10),
    )
    cookies = {django_settings.SESSION_COOKIE_NAME: admin_client.cookies[django_settings.SESSION_COOKIE_NAME].value}

    with Browser.start(tmp_path / "profile") as browser:
        vendors = browser.visit(
            f"{live_server.url}/admin/vendors/vendor/",
            cookies=cookies,
            png=shots / "vendors.png",
            evaluate="document.querySelector('#result_list').innerText",
        )
        keys = browser.visit(
            f"{live_server.url}/admin/vendors/vendorkey/",
            cookies=cookies,
            png=shots / "vendor_keys.png",
            evaluate="document.querySelector('#result_list').innerText",
        )
        page = browser.visit(
            f"{live_server.url}/admin/vendors/vendorkey/{key.pk}/change/",
            cookies=cookies,
            png=shots / "vendor_key.png",
            evaluate="document.querySelector('#content').innerText",
        )

    assert vendors.errors == [] and "2 / 3" in vendors.value and "auto-disabled (1)" in vendors.value
    assert keys.errors == [] and "auto-disabled" in keys.value.lower() and "sk-dashboard" not in keys.value
    assert page.errors == [] and "Test key" in page.value and "sk-dashboard-key-fal1" not in page.value
    assert "cooling until" in page.value and "slow down" in page.value
    assert "0 / 1" in vendors.value  # the fal key is resting: none of its keys is usable now
