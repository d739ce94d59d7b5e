"""The gateway's ledger as an end-to-end test reads it: through manage.py, against the gateway's own database."""

from __future__ import annotations

import json
import time

from tests.gateway_process import GatewayProcess

_PRINT_LEDGER = """
import json
from imagegen.models import Generation
print(json.dumps([
    {
        "status": row.status,
        "error_code": row.error_code,
        "worker": row.worker,
        "images": row.images.count(),
        "attempts": [{"key": a.key_label, "outcome": a.outcome, "sent": a.sent} for a in row.attempts.all()],
    }
    for row in Generation.objects.order_by("created_at")
]))
"""


def ledger(gateway: GatewayProcess) -> list[dict]:
    return json.loads(gateway.python(_PRINT_LEDGER).strip().splitlines()[-1])


def ledger_when(gateway: GatewayProcess, condition, timeout: float = 20.0) -> list[dict]:
    """The ledger once ``condition(rows)`` holds; fails with the last rows seen after ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    rows = ledger(gateway)
    while not condition(rows) and time.monotonic() < deadline:
        time.sleep(0.3)
        rows = ledger(gateway)
    assert condition(rows), rows
    return rows
