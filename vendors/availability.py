"""Which models can be served now: each enabled model's usable keys, for ``/health/ready``.

A model can be served when its vendor has a key that is enabled, not auto-disabled and not resting
(``vendors.keys``), or when one of its fallbacks can. Read from the routing table and one cache read per
vendor: no vendor is called.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from core.db import run_cache
from vendors.keys import usable_now
from vendors.selectors import RoutingTable, VendorRoute, routing_table


@dataclass(frozen=True)
class ModelState:
    name: str
    vendor: str
    usable_keys: int
    reason: str = ""  # why no key is usable; "" when one is
    back_in: float | None = None  # seconds until the first resting key is back, when all rest
    served_by: str | None = None  # the model a request for this one would be served by now (itself, a fallback)


@dataclass(frozen=True)
class VendorKeys:
    usable: int
    back_in: float | None


async def model_states() -> list[ModelState]:
    """Every enabled model of an enabled vendor, by name, with whether (and by which model) it can be served."""
    table = await routing_table()
    keys = await run_cache(_vendor_keys, table)
    states = []
    for name in table.model_names():
        route = table.models[name]
        vendor = keys[route.vendor.id]
        served_by = next((step.name for step in route.chain if keys[step.vendor.id].usable), None)
        states.append(
            ModelState(
                name=name,
                vendor=route.vendor.name,
                usable_keys=vendor.usable,
                reason="" if vendor.usable else _reason(route.vendor, vendor),
                back_in=vendor.back_in,
                served_by=served_by,
            )
        )
    return states


def _vendor_keys(table: RoutingTable) -> dict[int, VendorKeys]:
    found = {}
    for vendor_id, vendor in table.vendors.items():
        usable, back_in = usable_now(list(vendor.keys)) if vendor.keys else ([], None)
        found[vendor_id] = VendorKeys(len(usable), back_in)
    return found


def _reason(route: VendorRoute, keys: VendorKeys) -> str:
    if not route.keys:
        return "no usable key: none is configured, or every key is disabled or auto-disabled"
    back = f"; the first is back in {math.ceil(keys.back_in)} s" if keys.back_in is not None else ""
    return f"every key is resting (after failures or a rate limit) or was just auto-disabled{back}"
