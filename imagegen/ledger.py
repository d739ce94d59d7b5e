"""The ledger, written ahead: a ``Generation`` row exists before the first vendor call and is completed after.

Rows are written at three moments; the usual request (one call that succeeds) costs two writes:

1. before the first vendor call, the ``Generation`` row (pending, with what is known so far) and the
   ``VendorAttempt`` row of that call, in one transaction;
2. before each later call (the next key, a fallback model, the other calls of ``n`` images), that
   attempt's row;
3. at the end, in one transaction with the stored images: the row completed (success, failed or
   interrupted, latency, notes) and the outcome of every attempt.

The ``Generation`` row alone is written first when the optimizer's LLM is about to be called
(``LedgerEntry.open``). A request that never reached a vendor (an empty prompt, no usable key, an
answer from the caches) is written once, at the end. A worker that dies between 1 and 3 leaves a
pending row and attempts without an outcome, which ``imagegen.recovery`` marks interrupted: never a
missing row.
"""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass, field

from django.conf import settings
from django.db import transaction

from core import metrics, rows
from core.db import run_db
from core.errors import GatewayError
from core.request_context import current_request_id
from core.text import storable
from imagegen import alert_checks
from imagegen.costs import NOT_ASKED, Cost, OptimizerUsage, cost_of
from imagegen.generation import GenerationRequest, distinct_sizes
from imagegen.models import Generation, GenerationInput, VendorAttempt
from imagegen.recovery import current_worker
from proxy.models import StoredImage
from proxy.services import PreparedImage, record_images
from vendors.errors import JobLost, UpstreamTimeout
from vendors.selectors import ModelRoute
from vendors.services import INTERRUPTED, OK, Attempt

# The outcomes of a call after which the vendor may have made, and billed, images: it made them, it had
# the request and no answer came, or the call was cut off.
MAY_HAVE_BILLED = frozenset({OK, UpstreamTimeout.code, JobLost.code, INTERRUPTED})


@dataclass(eq=False)
class LedgerEntry:
    """What the Generation row says; filled in as the request goes. It observes the vendor attempts."""

    request: GenerationRequest
    started: float = field(default_factory=time.monotonic)
    request_id: str = field(default_factory=current_request_id)  # the HTTP request's, taken when the row begins
    route: ModelRoute | None = None  # the model being tried (the one that served, at the end)
    key_labels: list[str] = field(
        default_factory=list
    )  # the keys that served (or failed last); every key tried is an attempt
    requested_size: str = ""
    size: str = ""
    prompt: str = ""
    notes: list[str] = field(default_factory=list)
    attempts: list[Attempt] = field(default_factory=list)
    optimizer_usage: OptimizerUsage = NOT_ASKED
    cost: Cost | None = None  # set when the row is completed
    cached_images: list[StoredImage] = field(default_factory=list)  # the answer's images, from the image cache
    inputs: list[PreparedImage] = field(default_factory=list)  # the client's input images (then mask), in storage
    generation_id: int | None = None
    attempt_ids: dict[Attempt, int] = field(default_factory=dict)
    _opening: asyncio.Future | None = None
    _writes: list[asyncio.Future] = field(default_factory=list)

    async def open(self) -> None:
        """Write the pending row now, before a vendor call that is not one of the attempts (the optimizer's)."""
        await self._write_ahead(None)

    async def attempt_started(self, attempt: Attempt) -> None:
        """The vendor layer is about to send ``attempt``: its row is written first (with the pending row, if first)."""
        self.attempts.append(attempt)
        await self._write_ahead(attempt)

    async def close(self, status: str, *, error: GatewayError | None = None, prepared=()) -> list[StoredImage]:
        """Complete the row (or write it, when no vendor was called) with the images; the stored images."""
        # Writes ahead that a leaving client stopped waiting for are still running: they go first.
        await asyncio.gather(*self._writes, return_exceptions=True)
        # Images from the image cache are delivered and counted, but no vendor made them now: they cost nothing.
        priced = 0 if self.cached_images else len(prepared)
        self.cost = cost_of(self.route, self.size, self.request.quality, priced, self.optimizer_usage)
        _count_cost(self)
        images = await run_db(_complete, self, status, error, list(prepared))
        alert_checks.after_generation(self, error, len(images))  # queues its checks: never waits
        return images

    def may_have_billed(self) -> bool:
        """Whether a vendor may have made (and billed) images for this request, whatever became of them."""
        return any(attempt.sent is None or attempt.outcome in MAY_HAVE_BILLED for attempt in self.attempts)

    async def _write_ahead(self, attempt: Attempt | None) -> None:
        write = asyncio.ensure_future(self._write_in_order(attempt))
        self._writes.append(write)
        # Shielded: a client that leaves mid-write does not stop it, and close() waits for it.
        await asyncio.shield(write)

    async def _write_in_order(self, attempt: Attempt | None) -> None:
        if self._opening is None:  # the first write creates the row; later ones need its id
            self._opening = asyncio.ensure_future(run_db(_open, self, attempt))
            await self._opening
            return
        await self._opening
        if attempt is not None:
            await run_db(_add_attempts, self, [attempt])


@transaction.atomic
def _open(entry: LedgerEntry, attempt: Attempt | None) -> None:
    row = rows.create(Generation, **_row(entry, Generation.Status.PENDING), worker=current_worker())
    entry.generation_id = row.pk
    if attempt is not None:
        _add_attempts(entry, [attempt])


def _add_attempts(entry: LedgerEntry, attempts: list[Attempt]) -> None:
    written = rows.insert([VendorAttempt(generation_id=entry.generation_id, **_attempt_row(one)) for one in attempts])
    for attempt, row in zip(attempts, written, strict=True):
        entry.attempt_ids[attempt] = row.pk


@transaction.atomic
def _complete(
    entry: LedgerEntry, status: str, error: GatewayError | None, prepared: list[PreparedImage]
) -> list[StoredImage]:
    if prepared:
        images = record_images(prepared, model=entry.route.name, keep_days=keep_days(entry.route))
    else:
        images = list(entry.cached_images) if status == Generation.Status.SUCCESS else []
    values = _row(entry, status, error, images)
    if entry.generation_id is None:
        entry.generation_id = rows.create(Generation, **values, worker=current_worker()).pk
    else:
        rows.update(Generation, entry.generation_id, **values)
    _record_outcomes(entry)
    _link_inputs(entry)
    if images:
        links = Generation.images.through
        rows.insert([links(generation_id=entry.generation_id, storedimage=image) for image in images])
    return images


def _link_inputs(entry: LedgerEntry) -> None:
    """The client's input images recorded as stored images, and linked to the row in their order."""
    if not entry.inputs:
        return
    stored = record_images(entry.inputs, model=entry.request.model, keep_days=keep_days(entry.request.route))
    mask_at = len(entry.request.images) if entry.request.mask is not None else None
    rows.insert(
        [
            GenerationInput(generation_id=entry.generation_id, image=row, position=index, is_mask=index == mask_at)
            for index, row in enumerate(stored)
        ]
    )


def _count_cost(entry: LedgerEntry) -> None:
    model = entry.route.name if entry.route else entry.request.model
    for part, amount in (("image", entry.cost.vendor), ("optimizer", entry.cost.optimizer)):
        if amount:  # unpriced (None) and free parts add nothing
            metrics.COST.labels(model, part, entry.cost.currency).inc(float(amount))


def keep_days(route: ModelRoute) -> int | None:
    """Days the images of ``route`` are kept: the model's retention, else the gateway's; None: forever."""
    days = route.retention_days if route.retention_days is not None else settings.IMAGE_RETENTION_DAYS
    return days or None


def _record_outcomes(entry: LedgerEntry) -> None:
    for attempt in entry.attempts:
        if not attempt.outcome:  # still under way when the request ended: it was cut off
            attempt.end(INTERRUPTED, sent=None)
    _add_attempts(entry, [attempt for attempt in entry.attempts if attempt not in entry.attempt_ids])
    for attempt in entry.attempts:  # usually one; an UPDATE each costs a third of one bulk_update's CASE
        rows.update(
            VendorAttempt,
            entry.attempt_ids[attempt],
            ended_at=attempt.ended_at,
            outcome=attempt.outcome[:50],
            sent=attempt.sent,
        )


def _attempt_row(attempt: Attempt) -> dict:
    return {
        "vendor_id": attempt.vendor_id,
        "vendor_name": attempt.vendor_name[:100],
        "model": attempt.model[:200],
        "key_id": attempt.key_id,
        "key_label": attempt.key_label[:100],
        "n": attempt.n,
        "started_at": attempt.started_at,
        "ended_at": attempt.ended_at,
        "outcome": attempt.outcome[:50],
        "sent": attempt.sent,
    }


def _row(entry: LedgerEntry, status: str, error: GatewayError | None = None, images: list[StoredImage] = ()) -> dict:
    request, route = entry.request, entry.route
    return {
        **_costs(entry, len(images)),
        "request_id": entry.request_id,
        "client_key_id": request.caller.client_key_id,
        "client_label": request.caller.label,
        "model": request.model[:200],
        "vendor_id": route.vendor.id if route else None,
        "vendor_name": route.vendor.name if route else "",
        "served_model": route.name if route else "",
        "key_label": ", ".join(dict.fromkeys(label for label in entry.key_labels if label))[:100],
        "status": status,
        "error_code": (error.code or "") if error else "",
        # Vendor and LLM words end up here: a NUL or a lone surrogate must not lose the row.
        "error_message": storable(error.detail)[:2000] if error else "",
        "latency_ms": int((time.monotonic() - entry.started) * 1000),
        "requested_size": entry.requested_size,
        "size": entry.size,
        "generated_size": ", ".join(distinct_sizes(images))[:100],
        "n": request.n,
        "endpoint": request.endpoint,
        "end_user": request.end_user[:200],
        "notes": storable("\n".join(entry.notes)),
        "user_prompt": request.idea,
        "prompt": storable(entry.prompt),
    }


def _costs(entry: LedgerEntry, images: int) -> dict:
    usage, cost = entry.optimizer_usage, entry.cost
    return {
        "image_count": images,
        "optimizer_prompt_tokens": usage.prompt_tokens,
        "optimizer_completion_tokens": usage.completion_tokens,
        "vendor_cost": cost.vendor if cost else None,
        "optimizer_cost": cost.optimizer if cost else None,
        "cost_currency": cost.currency if cost else "",
    }
