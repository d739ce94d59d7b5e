"""Never pay twice: the ``Idempotency-Key`` of a generation request, recorded in the database.

The first request with a key inserts its ``IdempotencyRecord`` (unique per client and key, so of
two workers or instances racing on one key exactly one inserts) and runs; its answer is stored in
the row before it is sent. Within IDEMPOTENCY_TTL the same key with the same body (the endpoint
and the body's canonical JSON, hashed) gets that answer again, with no vendor or optimizer call;
with another body, a 409. A duplicate that arrives while the first runs polls the row for up to
IDEMPOTENCY_WAIT_SECONDS, then gets a 409 with Retry-After.

A first request that fails before any vendor may have made an image gives its key back (the row is
deleted): a retry runs again. One that fails after a vendor may have made, and billed, an image
(an image made but not stored, a timeout after sending, a call cut off) keeps its error as the
answer: a retry gets the same error, and a new key generates again. A first request whose worker
died (``imagegen.recovery``) is answered the same way, as ``worker_lost``.

Expired rows are treated as absent, and deleted lazily: by the next request with the same key,
and in batches at most once a minute by any request that brings a key.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import time
from dataclasses import dataclass
from datetime import timedelta

from django.conf import settings
from django.core.cache import cache
from django.db import IntegrityError, transaction
from django.utils import timezone

from core.db import run_db
from core.errors import GatewayError
from imagegen.client_keys import Caller
from imagegen.idempotency_record import IdempotencyRecord
from imagegen.recovery import LOST_CODE, current_worker, worker_gone

IN_FLIGHT, DONE = IdempotencyRecord.State.IN_FLIGHT, IdempotencyRecord.State.DONE
RETRY_AFTER = 5  # seconds a duplicate told to come back waits
PURGE_KEY = "idempotency:purged"
PURGE_EVERY = 60  # seconds between two purges of expired rows, across all workers
PURGE_BATCH = 1000
FIRST_POLL, LONGEST_POLL = 0.05, 0.5  # seconds between two looks at a row in flight


class KeyReused(GatewayError):
    status, code = 409, "idempotency_key_reused"

    def __init__(self) -> None:
        super().__init__(
            "This Idempotency-Key was already used with a different request (another body or endpoint). "
            "Use a new key for a new request.",
            param="Idempotency-Key",
        )


class StillInFlight(GatewayError):
    status, code = 409, "idempotency_request_in_progress"

    def __init__(self) -> None:
        super().__init__(
            "A request with this Idempotency-Key is still being processed. Retry later with the same key to get its "
            "answer; nothing was generated for this one.",
            param="Idempotency-Key",
            headers={"Retry-After": str(RETRY_AFTER)},
        )


class WorkerLost(GatewayError):
    status, code, error_type = 502, LOST_CODE, "upstream_error"

    def __init__(self) -> None:
        super().__init__(
            "The gateway process that handled the first request with this Idempotency-Key stopped before it answered; "
            "the vendor may have made, and billed, images that were never stored."
        )


@dataclass(frozen=True)
class Ticket:
    """The key is ours: run the request, then ``finish`` (or ``release``) the row."""

    record_id: int


@dataclass(frozen=True)
class Replay:
    """The key's stored answer (see ``error_answer`` and the edge's answer builders)."""

    answer: dict


def error_answer(error: GatewayError) -> dict:
    return {"kind": "error", "status": error.status, "body": error.body()}


def scope_of(caller: Caller) -> str:
    """Whose keys these are: two clients never share (or read) each other's keys."""
    return "bootstrap" if caller.client_key_id is None else f"key:{caller.client_key_id}"


def request_hash(endpoint: str, body: object) -> str:
    canonical = json.dumps(body, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return hashlib.sha256(f"{endpoint}\n{canonical}".encode("utf-8", "surrogatepass")).hexdigest()


async def claim(caller: Caller, key: str, endpoint: str, body: object) -> Ticket | Replay:
    """Take the key, or the answer stored for it (waiting for a request in flight with it)."""
    digest = request_hash(endpoint, body)
    deadline = time.monotonic() + settings.IDEMPOTENCY_WAIT_SECONDS
    pause = FIRST_POLL
    while True:
        found = await run_db(_claim_or_read, caller, key, endpoint, digest)
        if isinstance(found, int):
            return Ticket(found)
        if found is not None:
            if found.request_hash != digest:
                raise KeyReused()
            if found.state == DONE:
                return Replay(found.answer)
        left = deadline - time.monotonic()
        if left <= 0:
            raise StillInFlight()
        await asyncio.sleep(min(pause, left))
        pause = min(pause * 2, LONGEST_POLL)


def _claim_or_read(caller: Caller, key: str, endpoint: str, digest: str) -> int | IdempotencyRecord | None:
    """The new row's id, the row another request holds, or None when that row went meanwhile."""
    now, scope = timezone.now(), scope_of(caller)
    held = IdempotencyRecord.objects.filter(scope=scope, key=key).first()
    if held is not None and held.expires_at <= now:
        IdempotencyRecord.objects.filter(pk=held.pk, expires_at__lte=now).delete()
        held = None
    if held is not None:
        return _unless_abandoned(held)
    _purge_now_and_then(now)
    try:
        with transaction.atomic():
            return IdempotencyRecord.objects.create(
                scope=scope,
                client_label=caller.label[:100],
                key=key,
                request_hash=digest,
                endpoint=endpoint,
                worker=current_worker(),
                expires_at=now + timedelta(seconds=settings.IDEMPOTENCY_TTL),
            ).pk
    except IntegrityError:  # another worker inserted it first: read its row
        return IdempotencyRecord.objects.filter(scope=scope, key=key).first()


def _unless_abandoned(held: IdempotencyRecord) -> IdempotencyRecord:
    """A row in flight whose worker is gone (or that is older than LEDGER_STALE_SECONDS) answers ``worker_lost``."""
    stale = timezone.now() - timedelta(seconds=settings.LEDGER_STALE_SECONDS)
    if held.state != IN_FLIGHT or not (held.created_at < stale or worker_gone(held.worker)):
        return held
    answer = error_answer(WorkerLost())
    IdempotencyRecord.objects.filter(pk=held.pk, state=IN_FLIGHT).update(state=DONE, answer=answer)
    return IdempotencyRecord.objects.filter(pk=held.pk).first() or held


def _purge_now_and_then(now) -> None:
    if cache.add(PURGE_KEY, 1, PURGE_EVERY):
        purge_expired(now)


def purge_expired(now=None) -> int:
    """Delete up to PURGE_BATCH expired rows; how many went."""
    expired = IdempotencyRecord.objects.filter(expires_at__lte=now or timezone.now())
    ids = list(expired.values_list("pk", flat=True)[:PURGE_BATCH])
    return IdempotencyRecord.objects.filter(pk__in=ids).delete()[0] if ids else 0


async def finish(ticket: Ticket, answer: dict, generation_id: int | None = None) -> None:
    """Store the answer; from now on the key replays it."""
    await run_db(
        lambda: IdempotencyRecord.objects.filter(pk=ticket.record_id).update(
            state=DONE, answer=answer, generation_id=generation_id
        )
    )


async def release(ticket: Ticket) -> None:
    """Give the key back (nothing was paid for): a retry with it runs again."""
    await run_db(lambda: IdempotencyRecord.objects.filter(pk=ticket.record_id).delete())
