"""Ledger rows a dead worker left pending, marked interrupted: at start, and whenever a worker boots.

Every row names the process that wrote it (``Generation.worker``: host, pid and the process's start
time, so that a pid reused after a restart is not taken for the old process). A pending row is
abandoned when

- its worker ran on this host and that process is gone (a crash, ``kill -9``, the OOM killer): found
  at once by ``manage.py recover_ledger``, which ``make run`` runs before serving, and by each
  gateway worker as it boots, since gunicorn replaces a dead worker while the others keep serving;
- or it has been pending longer than ``LEDGER_STALE_SECONDS``, whoever wrote it (a host that is gone
  for good). Hosts sharing one database must have distinct host names, as containers do.
"""

from __future__ import annotations

import os
import socket
from datetime import timedelta
from functools import cache
from pathlib import Path

from django.conf import settings
from django.db import transaction
from django.db.models import Q
from django.utils import timezone

from imagegen.models import Generation, VendorAttempt

LOST_CODE = "worker_lost"
LOST_MESSAGE = (
    "The gateway process {worker} stopped (a crash, a kill or a restart) before this generation was "
    "completed. The vendor may have made, and billed, images that were never stored: attempts that "
    "were sent, or whose sending is unknown, may have reached it."
)
_PROC = Path("/proc")


def process_identity(pid: int) -> str | None:
    """``pid:start time`` of a running process, None when it is gone (``pid`` alone without /proc)."""
    if not (_PROC / "self").exists():
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            return None
        except PermissionError:
            pass  # it exists, under another user
        return str(pid)
    try:
        stat = (_PROC / str(pid) / "stat").read_text()
    except OSError:
        return None
    # The fields after the command name (which may hold spaces and parentheses): the state is the 3rd,
    # starttime the 22nd. A zombie has died and only waits for its parent (or init) to reap it.
    fields = stat.rsplit(")", 1)[1].split()
    if fields[0] in ("Z", "X"):
        return None
    return f"{pid}:{fields[19]}"


@cache
def _worker(pid: int) -> str:
    return f"{socket.gethostname()}/{process_identity(pid)}"[:100]


def current_worker() -> str:
    """This process, as the rows it writes name it."""
    return _worker(os.getpid())


def _gone(worker: str, host: str) -> bool:
    """Whether the process that wrote a row ran on this host and no longer runs."""
    worker_host, _, identity = worker.rpartition("/")
    if worker_host != host or not identity:
        return False
    try:
        pid = int(identity.split(":", 1)[0])
    except ValueError:
        return False
    return process_identity(pid) != identity


def worker_gone(worker: str) -> bool:
    """Whether ``worker`` (as rows name it) ran on this host and no longer runs."""
    return _gone(worker, socket.gethostname())


def recover_abandoned(stale_after: float | None = None) -> int:
    """Mark the pending rows of dead workers (and stale ones) interrupted; how many there were."""
    stale_after = settings.LEDGER_STALE_SECONDS if stale_after is None else stale_after
    pending = Generation.objects.filter(status=Generation.Status.PENDING)
    host = socket.gethostname()
    dead = [worker for worker in set(pending.values_list("worker", flat=True)) if _gone(worker, host)]
    stale = timezone.now() - timedelta(seconds=stale_after)
    rows = list(pending.filter(Q(worker__in=dead) | Q(created_at__lt=stale)).values_list("pk", "worker"))
    with transaction.atomic():
        for pk, worker in rows:
            # Still pending: a row its worker completed meanwhile keeps what the worker wrote.
            Generation.objects.filter(pk=pk, status=Generation.Status.PENDING).update(
                status=Generation.Status.INTERRUPTED,
                error_code=LOST_CODE,
                error_message=LOST_MESSAGE.format(worker=worker or "(unknown)"),
            )
        VendorAttempt.objects.filter(generation_id__in=[pk for pk, _ in rows], outcome="").update(
            outcome="interrupted", ended_at=timezone.now()
        )
    return len(rows)
