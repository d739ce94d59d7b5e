"""The dashboard in admin, as an operator reads it: images and cost per day by model, vendor and client key,
each vendor's error rate and p50/p95 over the last day and month, keys by state; linked from the index."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest
from django.core.cache import cache

from imagegen.dashboard import dashboard
from imagegen.models import Generation, VendorAttempt
from tests.factories import make_key, make_vendor
from vendors.keys import cooldown_key

pytestmark = pytest.mark.django_db

NOW = datetime.now(UTC)


def generation(at: datetime, vendor="sf", model="flux", client="team-a", latency=1000, status="success", **fields):
    row = Generation.objects.create(
        model=model,
        served_model=model,
        vendor_name=vendor,
        client_label=client,
        status=status,
        latency_ms=latency,
        image_count=1 if status == "success" else 0,
        **fields,
    )
    Generation.objects.filter(pk=row.pk).update(created_at=at)
    return row


def attempt(row: Generation, vendor: str, outcome: str, at: datetime) -> None:
    VendorAttempt.objects.create(generation=row, vendor_name=vendor, model="flux", started_at=at, outcome=outcome)


def test_images_and_cost_per_day_by_model_vendor_and_client_key():
    generation(NOW, vendor_cost=Decimal("0.04"), optimizer_cost=Decimal("0.001"))
    generation(NOW, model="sdxl", vendor="fal", client="team-b", vendor_cost=Decimal("0.02"))
    generation(NOW - timedelta(days=2), vendor_cost=Decimal("0.04"))
    generation(NOW - timedelta(days=40), vendor_cost=Decimal("9"))  # before the window

    data = dashboard(NOW)

    assert len(data["days"]) == 30 and data["days"][-1] == NOW.date().isoformat()
    by_model = {series["name"]: series["values"] for series in data["per_day"]["model"]["images"]}
    assert by_model["flux"][-3:] == [1, 0, 1] and by_model["sdxl"][-1] == 1 and sum(by_model["flux"]) == 2
    cost = {series["name"]: series["values"][-1] for series in data["per_day"]["vendor"]["cost"]}
    assert cost == {"sf": pytest.approx(0.041), "fal": pytest.approx(0.02)}
    assert {series["name"] for series in data["per_day"]["client"]["images"]} == {"team-a", "team-b"}


def test_beyond_six_series_the_rest_is_other():
    for n in range(8):
        generation(NOW, model=f"m{n}")

    names = [series["name"] for series in dashboard(NOW)["per_day"]["model"]["images"]]

    assert len(names) == 7 and names[-1] == "other"


def test_each_vendors_error_rate_and_percentiles_over_the_day_and_the_month():
    for latency in range(1, 21):  # 20 generations today taking 1..20 s
        row = generation(NOW - timedelta(hours=1), latency=latency * 1000)
        attempt(row, "sf", "ok", NOW - timedelta(hours=1))
    old = generation(NOW - timedelta(days=10), latency=100_000)
    for outcome in ["upstream_unavailable", "upstream_timeout", "content_policy_violation", "interrupted", ""]:
        attempt(old, "sf", outcome, NOW - timedelta(days=10))

    (sf,) = dashboard(NOW)["vendors"]

    assert sf["day"] == {"calls": 20, "failed": 0, "error_rate": 0, "p50": 10.0, "p95": 19.0}
    assert (sf["month"]["calls"], sf["month"]["failed"]) == (24, 2)
    assert sf["month"]["error_rate"] == pytest.approx(2 / 24)
    assert (sf["month"]["p50"], sf["month"]["p95"]) == (11.0, 20.0)  # 21 values: ranks 11 and 20


def test_one_generation_is_its_own_p50_and_p95():
    generation(NOW, latency=2500)

    (sf,) = dashboard(NOW)["vendors"]

    assert (sf["day"]["p50"], sf["day"]["p95"], sf["day"]["calls"]) == (2.5, 2.5, 0)


def test_keys_by_state_read_the_rows_and_the_cooldowns():
    vendor = make_vendor(name="sf")
    make_key(vendor, "sk-a-1111", label="a")
    resting = make_key(vendor, "sk-b-2222", label="b")
    make_key(vendor, "sk-c-3333", label="c", status="auto_disabled")
    make_key(vendor, "sk-d-4444", label="d", enabled=False)
    cache.set(cooldown_key(resting.id), NOW.timestamp() + 60, timeout=60)

    states = {row["state"]: row["count"] for row in dashboard(NOW)["keys"]}

    assert states == {"active": 1, "suspect": 0, "cooling down": 1, "auto-disabled": 1, "disabled by the operator": 1}


def test_the_dashboard_page_is_linked_from_the_index_and_carries_its_data(admin_client):
    generation(NOW, vendor_cost=Decimal("0.04"))

    index = admin_client.get("/admin/").content.decode()
    page = admin_client.get("/admin/imagegen/dashboard/")

    assert 'href="/admin/imagegen/dashboard/"' in index
    assert page.status_code == 200
    text = page.content.decode()
    assert "chart.umd.min.js" in text and "cdn" not in text.lower()
    data = json.loads(text.split('<script id="dashboard-data" type="application/json">')[1].split("</script>")[0])
    assert data["per_day"]["model"]["images"][0]["name"] == "flux"
