"""``/health/ready``: the dependency checks of ``/health``, and which models can be served now.

Ready means a request can be served: the database, the cache and image storage answer, and at least one
enabled model has a usable key (its own or a fallback's). The answer lists the models without a usable
key and says why; it is 200 while any model can be served ("degraded" when some cannot) and 503 only
when none can.
"""

from __future__ import annotations

import logging
import math

from imagegen.api import dependencies
from vendors.availability import ModelState, model_states

log = logging.getLogger(__name__)


async def readiness() -> tuple[dict, bool]:
    """The ``/health/ready`` body, and whether any model can be served."""
    checks = await dependencies.health()
    models = await _models() if checks["database"] == dependencies.OK else None
    servable = bool(models and models["servable"])
    ready = servable and all(state == dependencies.OK for state in checks.values())
    status = "unavailable" if not ready else "degraded" if models["without_usable_key"] else "ok"
    return {"status": status, "checks": checks, "models": models}, ready


async def _models() -> dict | None:
    try:
        states = await model_states()
    except Exception:  # the routing table could not be read: say not ready rather than fail
        log.exception("readiness: the models could not be read")
        return None
    lacking = [_lacking(state) for state in states if state.usable_keys == 0]
    return {
        "total": len(states),
        "servable": sum(state.served_by is not None for state in states),
        "without_usable_key": lacking,
    }


def _lacking(state: ModelState) -> dict:
    return {
        "model": state.name,
        "vendor": state.vendor,
        "reason": state.reason,
        "retry_after": math.ceil(state.back_in) if state.back_in is not None else None,
        "served_by": state.served_by,
    }
