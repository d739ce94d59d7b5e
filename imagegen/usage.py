"""The ledger summed up for operators: images and cost per client key and per model, today, this month, per day.

Each figure is one aggregate query over ``Generation`` (indexed on ``created_at``). Days and months are
calendar days in ``TIME_ZONE`` (UTC by default). A cost sums the rows whose vendor and optimizer costs
are both known and in ``PRICE_CURRENCY``; the rows it leaves out (no price, tokens unknown, another
currency, interrupted) are counted beside it as "unknown", never added as 0. Rows still pending count
as requests only.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, time, timedelta

from django.conf import settings
from django.db.models import Count, DecimalField, ExpressionWrapper, F, Q, QuerySet, Sum, Value
from django.db.models.functions import Coalesce, NullIf, TruncDate
from django.utils import timezone

from imagegen.models import Generation

DAYS = 31  # how far back the per-day table goes
TOTAL = ExpressionWrapper(
    F("vendor_cost") + F("optimizer_cost"), output_field=DecimalField(max_digits=18, decimal_places=8)
)
SERVED_MODEL = Coalesce(NullIf(F("served_model"), Value("")), F("model"))


@dataclass(frozen=True)
class Filters:
    client: str = ""  # a client_label; "" = every key
    model: str = ""  # the model that made the images (or was tried last); "" = every model

    def apply(self, rows: QuerySet) -> QuerySet:
        if self.client:
            rows = rows.filter(client_label=self.client)
        if self.model:
            rows = rows.filter(served=self.model)
        return rows


def _figures(window: Q) -> dict:
    """Requests, images, the known cost and the rows of unknown cost, of the rows in ``window``."""
    currency = settings.PRICE_CURRENCY
    known = Q(vendor_cost__isnull=False, optimizer_cost__isnull=False, cost_currency=currency)
    finished = ~Q(status=Generation.Status.PENDING)
    return {
        "requests": Count("pk", filter=window),
        "images": Coalesce(Sum("image_count", filter=window), 0),
        "cost": Sum(TOTAL, filter=window & known),
        "unknown": Count("pk", filter=window & finished & ~known),
    }


def _window(start: datetime) -> Q:
    return Q(created_at__gte=start)


def start_of(day: date) -> datetime:
    return timezone.make_aware(datetime.combine(day, time.min))


def grouped(rows: QuerySet, by: str, today: date) -> list[dict]:
    """Per client key (``by="client"``) or per model (``by="model"``): today's and this month's figures."""
    month = start_of(today.replace(day=1))
    rows = rows.filter(created_at__gte=month)
    field = "client_label" if by == "client" else "served"
    today_figures = {f"today_{name}": value for name, value in _figures(_window(start_of(today))).items()}
    month_figures = {f"month_{name}": value for name, value in _figures(_window(month)).items()}
    table = rows.values(field).annotate(**today_figures, **month_figures).order_by(field)
    return [{"name": row[field] or "—", **row} for row in table]


def per_day(rows: QuerySet, today: date) -> list[dict]:
    """The last DAYS days, newest first, with a row for every day (zeros on quiet days)."""
    first = today - timedelta(days=DAYS - 1)
    recorded = (
        rows.filter(created_at__gte=start_of(first))
        .annotate(day=TruncDate("created_at", tzinfo=timezone.get_current_timezone()))
        .values("day")
        .annotate(**_figures(Q()))
    )
    by_day = {row["day"]: row for row in recorded}
    empty = {"requests": 0, "images": 0, "cost": None, "unknown": 0}
    return [{**empty, **by_day.get(day, {}), "day": day} for day in (today - timedelta(days=n) for n in range(DAYS))]


def local_today() -> date:
    return timezone.localdate()


def usage_report(filters: Filters, today: date | None = None) -> dict:
    today = today or local_today()
    ledger = Generation.objects.annotate(served=SERVED_MODEL)
    rows = filters.apply(ledger)
    recent = ledger.filter(created_at__gte=start_of(min(today.replace(day=1), today - timedelta(days=DAYS - 1))))
    return {
        "today": today,
        "currency": settings.PRICE_CURRENCY,
        "time_zone": settings.TIME_ZONE,
        "by_client": grouped(rows, "client", today),
        "by_model": grouped(rows, "model", today),
        "days": per_day(rows, today),
        # The choices of the filters: who and what appear in the tables' period.
        "clients": list(recent.order_by("client_label").values_list("client_label", flat=True).distinct()),
        "models": list(recent.order_by("served").values_list("served", flat=True).distinct()),
    }
