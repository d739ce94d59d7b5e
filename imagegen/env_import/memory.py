"""What the last import wrote (``EnvImport`` rows), and the one rule that compares it.

A value the environment seeds is written when it is new to the environment: never imported, or
different from what the last import wrote. Otherwise the row keeps what it holds, because any
difference is an edit made in admin on purpose: it is reported as drift, never reverted.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from imagegen.models import EnvImport

NEVER = object()  # no import has written this value yet
OPTIMIZER = "optimizer"


def vendor_target(name: str) -> str:
    return f"vendor:{name}"


@dataclass(frozen=True)
class Merge:
    write: bool  # the row takes the environment's value
    drift: bool  # the row keeps an admin edit that differs from the (unchanged) environment
    replaces_admin: bool  # the environment's new value replaces an admin edit


def merge(env: Any, last: Any, current: Any) -> Merge:
    if last is NEVER or env != last:
        replaces_admin = last is not NEVER and current not in (last, env)
        return Merge(write=current != env, drift=False, replaces_admin=replaces_admin)
    return Merge(write=False, drift=current != env, replaces_admin=False)


class ImportMemory:
    """The records as they were when this import started, and the writes that update them."""

    def __init__(self):
        self.records: dict[str, dict] = {row.target: row.values for row in EnvImport.objects.all()}

    def vendor(self, name: str) -> dict | None:
        return self.records.get(vendor_target(name))

    def optimizer(self) -> dict | None:
        return self.records.get(OPTIMIZER)

    def vendor_of_model(self, model: str) -> str | None:
        """The vendor whose environment listed ``model`` at the last import, if any did."""
        for target, values in self.records.items():
            if target.startswith("vendor:") and model in values.get("models", {}):
                return target.removeprefix("vendor:")
        return None

    def upstream_of_model(self, model: str) -> Any:
        vendor = self.vendor_of_model(model)
        return NEVER if vendor is None else self.records[vendor_target(vendor)]["models"][model]

    def remember(self, target: str, values: dict) -> None:
        # Written only when it differs, so a run that changes nothing writes nothing.
        if self.records.get(target) != values:
            EnvImport.objects.update_or_create(target=target, defaults={"values": values})

    def forget_all_but(self, targets: set[str]) -> None:
        """Drops the records of vendors the environment no longer names: if they come back, they are new."""
        EnvImport.objects.exclude(target__in=targets).delete()
