"""The numbers behind the admin's dashboard, aggregated in the database.

- images and cost per day, last :data:`DAYS` days, by model (the one that made the images), by vendor and
  by client key: one grouped query per dimension;
- per vendor, over the last day and the last :data:`DAYS` days: its calls and the share that failed
  (``VendorAttempt``; the client's own faults and calls cut off do not count), and p50/p95 of the time
  its successful generations took (``Generation.latency_ms``, what the client waited);
- the keys by state.

Percentiles are nearest-rank, found by window functions (``ROW_NUMBER`` over each vendor's latencies),
which SQLite and PostgreSQL both run: the database returns two rows per vendor, never the latencies.
"""

from __future__ import annotations

import math
from collections import defaultdict
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal

from django.conf import settings
from django.db.models import Count, F, Q, Sum, Window
from django.db.models.functions import Ceil, RowNumber, TruncDate

from imagegen.alert_checks import NOT_VENDOR_ERRORS
from imagegen.models import Generation, VendorAttempt
from vendors.key_census import key_states as census_key_states

DAYS = 30
TOP = 6  # series drawn per chart; the rest are summed as "other"
DIMENSIONS = {"model": "served_model", "vendor": "vendor_name", "client": "client_label"}
KEY_STATES = {  # the census's states, in words
    "active": "active",
    "suspect": "suspect",
    "cooling": "cooling down",
    "auto_disabled": "auto-disabled",
    "disabled": "disabled by the operator",
}


def dashboard(now: datetime | None = None) -> dict:
    now = now or datetime.now(UTC)
    first = (now - timedelta(days=DAYS - 1)).date()
    days = [first + timedelta(days=n) for n in range(DAYS)]
    since = datetime.combine(first, datetime.min.time(), UTC)
    return {
        "currency": settings.PRICE_CURRENCY,
        "days": [day.isoformat() for day in days],
        "per_day": per_day(since, days),
        "vendors": vendor_health(now),
        "keys": key_states(),
    }


def per_day(since: datetime, days: list[date]) -> dict:
    """Images and cost per day by each dimension's top series (others summed), in the order of ``days``.

    One query groups the rows by day and all three dimensions at once (a few hundred groups a day at
    most); each dimension is summed from those groups.
    """
    rows = (
        Generation.objects.filter(created_at__gte=since)
        .annotate(day=TruncDate("created_at", tzinfo=UTC))
        .values("day", *DIMENSIONS.values())
        .annotate(images=Sum("image_count"), vendor_cost=Sum("vendor_cost"), optimizer_cost=Sum("optimizer_cost"))
    )
    images = {name: defaultdict(lambda: defaultdict(int)) for name in DIMENSIONS}
    costs = {name: defaultdict(lambda: defaultdict(float)) for name in DIMENSIONS}
    for row in rows:
        cost = float((row["vendor_cost"] or Decimal(0)) + (row["optimizer_cost"] or Decimal(0)))
        for name, field in DIMENSIONS.items():
            series = row[field] or "—"
            images[name][series][row["day"]] += row["images"] or 0
            costs[name][series][row["day"]] += cost
    return {name: {"images": _top(images[name], days), "cost": _top(costs[name], days)} for name in DIMENSIONS}


def _top(values: dict[str, dict[date, float]], days: list[date]) -> list[dict]:
    ranked = sorted(values, key=lambda name: (-sum(values[name].values()), name))
    series = [{"name": name, "values": [values[name].get(day, 0) for day in days]} for name in ranked[:TOP]]
    rest = ranked[TOP:]
    if rest:
        series.append({"name": "other", "values": [sum(values[name].get(day, 0) for name in rest) for day in days]})
    return [entry for entry in series if any(entry["values"])]


def vendor_health(now: datetime) -> list[dict]:
    """Per vendor: calls, failed calls, error rate, p50 and p95 seconds, for the last day and the last DAYS."""
    windows = {"day": now - timedelta(days=1), "month": now - timedelta(days=DAYS)}
    vendors: dict[str, dict] = defaultdict(dict)
    for window, since in windows.items():
        for name, calls, failed in _calls(since):
            vendors[name][window] = {"calls": calls, "failed": failed, "error_rate": failed / calls if calls else 0}
        for name, (p50, p95) in _latency_percentiles(since).items():
            vendors[name].setdefault(window, {"calls": 0, "failed": 0, "error_rate": 0}).update(p50=p50, p95=p95)
    empty = {"calls": 0, "failed": 0, "error_rate": 0, "p50": None, "p95": None}
    return [
        {"name": name, **{window: {**empty, **vendors[name].get(window, {})} for window in windows}}
        for name in sorted(vendors)
    ]


def _calls(since: datetime) -> list[tuple[str, int, int]]:
    rows = (
        VendorAttempt.objects.filter(started_at__gte=since)
        .exclude(outcome="")
        .values("vendor_name")
        .annotate(calls=Count("id"), failed=Count("id", filter=~Q(outcome__in=NOT_VENDOR_ERRORS)))
    )
    return [(row["vendor_name"], row["calls"], row["failed"]) for row in rows]


def _latency_percentiles(since: datetime) -> dict[str, tuple[float, float]]:
    """Nearest-rank p50 and p95 of successful generations' seconds, per vendor that served them."""
    ranked = (
        Generation.objects.filter(created_at__gte=since, status=Generation.Status.SUCCESS)
        .exclude(vendor_name="")
        .annotate(
            position=Window(RowNumber(), partition_by=[F("vendor_name")], order_by=[F("latency_ms").asc(), F("id")]),
            total=Window(Count("id"), partition_by=[F("vendor_name")]),
        )
        .filter(Q(position=Ceil(F("total") * 0.5)) | Q(position=Ceil(F("total") * 0.95)))
        .values_list("vendor_name", "position", "total", "latency_ms")
    )
    found: dict[str, dict[int, int]] = defaultdict(dict)
    totals: dict[str, int] = {}
    for name, position, total, latency in ranked:
        found[name][position], totals[name] = latency, total
    return {
        name: (found[name][math.ceil(total * 0.5)] / 1000, found[name][math.ceil(total * 0.95)] / 1000)
        for name, total in totals.items()
    }


def key_states() -> list[dict]:
    """Vendor keys by state, counted as ``/metrics`` counts them (``vendors.key_census``), all vendors together."""
    counts = dict.fromkeys(KEY_STATES.values(), 0)
    for (_vendor, state), count in census_key_states().items():
        counts[KEY_STATES[state]] += count
    return [{"state": state, "count": count} for state, count in counts.items()]
