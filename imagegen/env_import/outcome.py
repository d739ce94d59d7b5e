"""What an import did to one vendor, and the lines that tell the operator.

Upstream URLs are never shown (they may carry tokens); keys only by their last 4 characters.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field

from imagegen.env_import.specs import VendorSpec
from vendors.models import Vendor

KEPT = "the variable has not changed since the last import, so the value set in admin is kept"


def drift(subject: str, var: str, admin: str = "", env: str = "") -> str:
    """A warning for an admin edit the import keeps. Values are shown only when given."""
    differs = f"is {admin} in admin but {env} in {var}" if admin or env else f"in admin differs from {var}"
    return f"Admin differs from the environment: {subject} {differs}; {KEPT}."


def replaced(subject: str, var: str) -> str:
    return f"The environment replaced an edit made in admin: {subject} ({var} changed since the last import)."


@dataclass
class VendorOutcome:
    """What ``apply_vendor`` did to one vendor and what it left alone."""

    spec: VendorSpec
    vendor: Vendor | None = None  # None: the vendor was skipped
    state: str = "unchanged"  # "created", "<what> updated from the environment", "unchanged" or why it was skipped
    models: Counter[str] = field(default_factory=Counter)  # "created" / "updated" / "unchanged" -> count
    models_deleted: list[str] = field(default_factory=list)  # listed at the last import, deleted in admin since
    keys_added: list[str] = field(default_factory=list)  # masked
    keys_deleted: list[str] = field(default_factory=list)  # masked; listed at the last import, deleted in admin since
    other_models: int = 0
    other_keys: int = 0
    warnings: list[str] = field(default_factory=list)
    catalog: list[str] = field(default_factory=list)  # what the catalog gave each model created

    @property
    def changed(self) -> bool:
        created_or_updated = self.models["created"] or self.models["updated"] or self.keys_added
        return self.vendor is not None and (self.state != "unchanged" or bool(created_or_updated))

    def report(self) -> list[str]:
        lines = [f"Vendor {self.spec.name!r} ({self.spec.kind}): {self._summary()}."]
        if self.vendor is None:
            return lines
        others = [
            f"{count} {noun}(s)" for count, noun in ((self.other_models, "model"), (self.other_keys, "key")) if count
        ]
        if others:
            lines.append(
                f"  {' and '.join(others)} of {self.spec.name!r} not in the environment were left as they are."
            )
        return lines + [f"  {line}" for line in self.catalog] + self._deleted_in_admin()

    def _deleted_in_admin(self) -> list[str]:
        lines = []
        if self.models_deleted:
            names = ", ".join(repr(name) for name in self.models_deleted)
            lines.append(
                f"  Model(s) {names} were deleted in admin after the last import: not re-created "
                "(add them in admin to bring them back)."
            )
        if self.keys_deleted:
            lines.append(
                f"  {len(self.keys_deleted)} key(s) of {self.spec.keys_var} were deleted in admin after the last "
                f"import: not re-added ({', '.join(self.keys_deleted)}; add them in admin to bring them back)."
            )
        return lines

    def _summary(self) -> str:
        spec = self.spec
        if self.vendor is None:
            return self.state
        if not self.changed:
            listed = [f"{len(spec.models)} model(s)"] if spec.models else []
            listed.append(f"{len(spec.keys)} key(s)")
            return f"unchanged ({' and '.join(listed)} from the environment)"
        changes = [f"{self.models[verb]} model(s) {verb}" for verb in ("created", "updated") if self.models[verb]]
        if self.keys_added:
            changes.append(f"{len(self.keys_added)} key(s) added ({', '.join(self.keys_added)})")
        summary = "; ".join(changes if self.state == "unchanged" else [self.state, *changes])
        kept_keys = len(spec.keys) - len(self.keys_added) - len(self.keys_deleted)
        if self.models["unchanged"] or kept_keys:
            summary += f"; {self.models['unchanged']} model(s) and {kept_keys} key(s) unchanged"
        return summary
