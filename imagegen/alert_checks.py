"""When the gateway raises an alert: the four kinds, and the hooks that look for them.

- a key auto-disabled: the key loop's ``vendors.key_events.auto_disabled`` signal (:func:`on_key_auto_disabled`);
- a model with no usable key: a request answered ``no_available_key``, or a vendor left without an
  enabled, active key after one was auto-disabled;
- a vendor's error rate: checked after a generation in which one of its calls failed;
- a client key at 80% and at 100% of its images of the day (and any quota handed to :func:`quota_used`).

Every hook returns at once: the checks that query the database run on the alerts' courier
(``imagegen.alerts``). :func:`after_generation` is the ledger's hook, called once per request.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

from django.conf import settings
from django.db.models import Count, Q, Sum
from django.dispatch import receiver

from core.db import run_db
from core.state import process_state
from imagegen.alert_record import Alert
from imagegen.alerts import Draft, raise_alert, run_check
from imagegen.models import ClientKey, Generation, VendorAttempt
from vendors.key_events import auto_disabled
from vendors.models import ImageModel, VendorKey

Kind = Alert.Kind
# Outcomes of a vendor call that say nothing about the vendor's health: its success, the client's own
# fault (a bad request, a refused prompt), a call cut off, a call under way.
NOT_VENDOR_ERRORS = ("ok", "", "interrupted", "upstream_bad_request", "content_policy_violation")
QUOTA_STEPS = (100, 80)  # percent, highest first: a request that jumps past both raises the higher


@receiver(auto_disabled)
def on_key_auto_disabled(*, vendor_id, vendor_name, key_id, key_label, reason, **kwargs) -> None:
    label = key_label or f"#{key_id}"
    raise_alert(
        Draft(
            kind=Kind.KEY_AUTO_DISABLED,
            subject=f"{vendor_name} / {label}",
            text=f"imagegen: key {label!r} of vendor {vendor_name!r} was auto-disabled ({reason}).",
            dedup=f"key:{key_id}",
        )
    )
    run_check(lambda: vendor_keys_left(vendor_id, vendor_name))


async def vendor_keys_left(vendor_id: int, vendor_name: str) -> None:
    """With no usable key left at the vendor, each of its enabled models has none: one alert per model."""
    usable, models = await run_db(_usable_keys_and_models, vendor_id)
    if usable:
        return
    for model in models:
        model_without_key(model, f"vendor {vendor_name!r} has no enabled key left that is not auto-disabled")


def _usable_keys_and_models(vendor_id: int) -> tuple[int, list[str]]:
    # Suspect and resting keys still serve, or will: only keys taken out for good leave a model without one.
    usable = (
        VendorKey.objects.filter(vendor_id=vendor_id, enabled=True)
        .exclude(status=VendorKey.Status.AUTO_DISABLED)
        .count()
    )
    models = list(ImageModel.objects.filter(vendor_id=vendor_id, enabled=True).values_list("name", flat=True))
    return usable, models


def model_without_key(model: str, why: str) -> None:
    raise_alert(
        Draft(
            kind=Kind.MODEL_NO_KEY,
            subject=model,
            text=f"imagegen: model {model!r} has no usable key: {why}. Its requests fail until a key is back.",
            dedup=f"model:{model}",
        )
    )


@dataclass
class ErrorRateChecks:
    """The vendors whose error-rate check is queued and not started yet: one queued check per vendor is enough."""

    queued: set[int] = field(default_factory=set)


def check_error_rates(vendor_ids: Iterable[int]) -> None:
    queued = process_state().slot(ErrorRateChecks).queued
    for vendor_id in set(vendor_ids) - queued:
        queued.add(vendor_id)
        run_check(lambda vendor_id=vendor_id: vendor_error_rate(vendor_id))


async def vendor_error_rate(vendor_id: int) -> None:
    process_state().slot(ErrorRateChecks).queued.discard(vendor_id)
    name, calls, failed = await run_db(_calls_in_window, vendor_id)
    threshold = settings.ALERT_ERROR_RATE_THRESHOLD
    if calls < settings.ALERT_ERROR_RATE_MIN_CALLS or failed < threshold * calls:
        return
    minutes = settings.ALERT_ERROR_RATE_WINDOW / 60
    raise_alert(
        Draft(
            kind=Kind.VENDOR_ERROR_RATE,
            subject=name,
            text=(
                f"imagegen: vendor {name!r} failed {failed} of its last {calls} calls ({failed / calls:.0%}) "
                f"in {minutes:g} min; the threshold is {threshold:.0%}."
            ),
            dedup=f"vendor:{vendor_id}",
        )
    )


def _calls_in_window(vendor_id: int) -> tuple[str, int, int]:
    since = datetime.now(UTC) - timedelta(seconds=settings.ALERT_ERROR_RATE_WINDOW)
    rows = VendorAttempt.objects.filter(vendor_id=vendor_id, started_at__gte=since).exclude(outcome="")
    counts = rows.aggregate(calls=Count("id"), failed=Count("id", filter=~Q(outcome__in=NOT_VENDOR_ERRORS)))
    name = rows.values_list("vendor_name", flat=True).first() or f"#{vendor_id}"
    return name, counts["calls"], counts["failed"]


def quota_used(client_key_id: int, name: str, quota: str, used: float, limit: float, period: str, until: datetime):
    """A client key used ``used`` of ``limit`` of a quota in ``period``: alert at 80% and 100%, once each per period."""
    if not limit:
        return
    share = used / limit * 100
    step = next((step for step in QUOTA_STEPS if share >= step), None)
    if step is None:
        return
    raise_alert(
        Draft(
            kind=Kind.CLIENT_QUOTA,
            subject=f"{name} / {quota}",
            text=f"imagegen: client key {name!r} has used {used:g} of its {limit:g} {quota} ({share:.0f}%, {period}).",
            dedup=f"quota:{client_key_id}:{quota}:{step}:{period}",
            dedup_seconds=max(int((until - datetime.now(UTC)).total_seconds()), 60),
        )
    )


async def client_quotas(client_key_id: int) -> None:
    found = await run_db(_images_today, client_key_id)
    if found is not None:
        quota_used(client_key_id, *found)


def _images_today(client_key_id: int) -> tuple | None:
    row = ClientKey.objects.filter(pk=client_key_id).first()
    limit = getattr(row, "images_per_day", None)  # client-key limits: images per UTC day, when set
    if not limit:
        return None
    today = datetime.now(UTC).replace(hour=0, minute=0, second=0, microsecond=0)
    used = Generation.objects.filter(client_key_id=client_key_id, created_at__gte=today).aggregate(
        images=Sum("image_count")
    )["images"]
    return row.name, "images per day", used or 0, limit, f"{today:%Y-%m-%d} UTC", today + timedelta(days=1)


def after_generation(entry, error, images: int) -> None:
    """The ledger's hook once a request's row is complete (a ``LedgerEntry``, its error); returns at once."""
    failed = [attempt.vendor_id for attempt in entry.attempts if attempt.outcome not in NOT_VENDOR_ERRORS]
    check_error_rates(failed)
    if error is not None and error.code == "no_available_key":
        model = entry.route.name if entry.route else entry.request.model
        model_without_key(model, "every key of its vendor is disabled or cooling down")
    caller = entry.request.caller
    # A key with a quota (client-key limits: images per day) is checked against the ledger; others cost nothing.
    if caller.client_key_id is not None and images and getattr(caller, "images_per_day", None):
        run_check(lambda: client_quotas(caller.client_key_id))
