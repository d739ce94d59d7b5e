"""A client key's monthly budget in money: the last of its limits (``imagegen.client_limits.CHECKS``).

The month is the UTC calendar month. Its spend is read from the ledger, the record of what was paid:
the sum of the known ``vendor_cost`` and ``optimizer_cost`` of the key's rows made this month in
PRICE_CURRENCY. A part whose cost is unknown (no price) counts 0, a row in another currency counts
nothing, and a row still running counts nothing until it completes with its cost.

A request is refused (429 ``insufficient_quota``, ``Retry-After`` until the month ends) once the spend
has reached the budget. Nothing is reserved ahead: before the route, the size and the optimizer have
run, the cost of a request is not known. So the requests admitted before the spend reached the budget
still complete, and the spend can pass the budget by their costs: the one that reached it and those
running beside it (with the key's generations in flight limited to k, at most k requests' costs). A
row counts in the month it was made, even when it completes in the next.

The spend is one aggregate query, run only for keys with a budget, in the same thread hop as the key's
other checks. It reads only the index (client_key, created_at, cost_currency, vendor_cost,
optimizer_cost): about 0.3 ms for a key with 100 rows this month and 1.5 ms with 10,000 on SQLite
(an index-only scan on PostgreSQL too). No memo: one would let more requests past a reached budget.
"""

from __future__ import annotations

import math
from datetime import UTC, datetime
from decimal import Decimal
from typing import TYPE_CHECKING

from django.conf import settings
from django.db.models import DecimalField, F, Sum, Value
from django.db.models.functions import Coalesce

from imagegen.costs import shown
from imagegen.errors import KeyQuotaExceeded
from imagegen.models import Generation

if TYPE_CHECKING:
    from imagegen.client_keys import Caller
    from imagegen.client_limits import Admission

LEDGER_PLACES = Decimal("0.00000001")
MONEY = DecimalField(max_digits=18, decimal_places=8)
ZERO = Value(Decimal(0), output_field=MONEY)
# Each known part counts: a row whose optimizer tokens went unreported still spent its images.
KNOWN_SPEND = Coalesce(F("vendor_cost"), ZERO, output_field=MONEY) + Coalesce(
    F("optimizer_cost"), ZERO, output_field=MONEY
)


def money(amount: Decimal) -> str:
    """An amount with the decimals it needs, at least 2 and at most 6: ``10.00``, ``0.125``."""
    whole, _, fraction = f"{shown(amount).normalize():f}".partition(".")
    return f"{whole}.{fraction.ljust(2, '0')}"


def month_bounds(now: datetime) -> tuple[datetime, datetime]:
    """The start of ``now``'s UTC calendar month and of the next one."""
    now = now.astimezone(UTC)
    start = datetime(now.year, now.month, 1, tzinfo=UTC)
    following = datetime(now.year + now.month // 12, now.month % 12 + 1, 1, tzinfo=UTC)
    return start, following


def month_spend(client_key_id: int, now: datetime) -> Decimal:
    """What the key's generations of ``now``'s UTC month cost, as far as the ledger knows, in PRICE_CURRENCY."""
    start, following = month_bounds(now)
    rows = Generation.objects.filter(
        client_key_id=client_key_id,
        created_at__gte=start,
        created_at__lt=following,
        cost_currency=settings.PRICE_CURRENCY,
    )
    spent = rows.aggregate(spent=Sum(KNOWN_SPEND, output_field=MONEY))["spent"] or Decimal(0)
    return spent.quantize(LEDGER_PLACES)  # SQLite sums in floating point: back to the ledger's 8 places


def monthly_budget(caller: Caller, n: int, admission: Admission) -> None:
    budget = caller.monthly_budget
    if budget is None or caller.client_key_id is None:
        return
    now = datetime.now(UTC)
    spent = month_spend(caller.client_key_id, now)
    if spent < budget:
        return
    following = month_bounds(now)[1]
    currency = settings.PRICE_CURRENCY
    message = (
        f"This API key has spent {money(spent)} {currency} this month (UTC), which has reached its monthly "
        f"budget of {money(budget)} {currency}; the budget starts again on {following:%Y-%m-%d} at 00:00 UTC."
    )
    raise KeyQuotaExceeded(message, retry_after=max(1, math.ceil((following - now).total_seconds())))
