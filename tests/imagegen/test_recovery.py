"""Rows that dead workers left pending are marked interrupted; rows of live workers are left alone."""

import os
import socket
import subprocess
import sys
from datetime import timedelta

import pytest
from django.core.management import call_command
from django.utils import timezone

from imagegen.models import Generation, VendorAttempt
from imagegen.recovery import current_worker, process_identity, recover_abandoned

pytestmark = pytest.mark.django_db


def dead_worker() -> str:
    """The name a row gives a worker process on this host that has since exited."""
    process = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(30)"])
    identity = process_identity(process.pid)
    process.kill()
    process.wait()
    return f"{socket.gethostname()}/{identity}"


def zombie_worker() -> tuple[str, subprocess.Popen]:
    """A worker killed but not yet reaped (its parent, like a killed gunicorn master's orphans, never waits)."""
    process = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(30)"])
    identity = process_identity(process.pid)
    process.kill()
    os.waitid(os.P_PID, process.pid, os.WEXITED | os.WNOWAIT)  # dead, and left a zombie
    return f"{socket.gethostname()}/{identity}", process


def test_a_killed_worker_not_yet_reaped_counts_as_gone():
    worker, process = zombie_worker()
    try:
        abandoned = pending(worker)
        assert recover_abandoned() == 1
        assert status_of(abandoned) == Generation.Status.INTERRUPTED
    finally:
        process.wait()


def pending(worker: str, *, age: float = 0.0, outcome: str = "") -> Generation:
    """A pending row ``age`` seconds old, with one attempt whose outcome is ``outcome`` ("" = under way)."""
    row = Generation.objects.create(model="flux", status=Generation.Status.PENDING, worker=worker)
    Generation.objects.filter(pk=row.pk).update(created_at=timezone.now() - timedelta(seconds=age))
    VendorAttempt.objects.create(
        generation=row, vendor_name="sf", model="flux", key_label="k1", started_at=timezone.now(), outcome=outcome
    )
    return row


def status_of(row: Generation) -> str:
    return Generation.objects.get(pk=row.pk).status


def test_a_pending_row_of_a_dead_worker_on_this_host_is_marked_interrupted_with_its_calls():
    abandoned = pending(dead_worker())

    assert recover_abandoned() == 1

    row = Generation.objects.get(pk=abandoned.pk)
    assert (row.status, row.error_code) == ("interrupted", "worker_lost")
    assert "may have made, and billed" in row.error_message and abandoned.worker in row.error_message
    attempt = row.attempts.get()
    assert (attempt.outcome, attempt.sent) == ("interrupted", None) and attempt.ended_at is not None


def test_rows_of_live_workers_and_of_other_hosts_are_left_pending_until_they_are_stale():
    live = pending(current_worker())
    elsewhere = pending("another-host/12345:999")
    long_gone = pending("another-host/12345:999", age=7200)

    assert recover_abandoned(stale_after=3600) == 1

    assert [status_of(row) for row in (live, elsewhere, long_gone)] == ["pending", "pending", "interrupted"]


def test_finished_rows_and_finished_attempts_keep_what_their_worker_wrote():
    worker = dead_worker()
    done = Generation.objects.create(model="flux", status=Generation.Status.SUCCESS, worker=worker)
    row = pending(worker, outcome="upstream_key_rejected")

    recover_abandoned()

    assert status_of(done) == "success"
    assert row.attempts.get().outcome == "upstream_key_rejected"


def test_a_pid_reused_by_a_new_process_is_not_taken_for_the_old_worker():
    # This pid runs, but the row's process started at another time: the pid was reused after it died.
    row = pending(f"{socket.gethostname()}/{os.getpid()}:1")

    recover_abandoned()

    assert status_of(row) == "interrupted"


def test_the_recover_ledger_command_reports_what_it_marked(capsys):
    pending(dead_worker())

    call_command("recover_ledger")

    assert "1 pending row(s) left by stopped workers marked interrupted" in capsys.readouterr().out
    assert Generation.objects.get().status == "interrupted"
