"""Writing specs as rows (vendors, their models and keys, the optimizer) and saying what changed.

Every row is validated with ``full_clean()`` before it is saved; a problem becomes a ``CommandError``
that names the environment variable it came from.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field

from django.core.exceptions import NON_FIELD_ERRORS, ValidationError
from django.core.management.base import CommandError
from django.db import models

from imagegen.env_import.specs import ModelSpec, OptimizerSpec, VendorSpec
from imagegen.models import OptimizerSettings
from vendors import crypto
from vendors.adapters import image_kinds
from vendors.models import ImageModel, Vendor, VendorKey


@dataclass
class VendorOutcome:
    """What ``apply_vendor`` did to one vendor and what it left alone."""

    spec: VendorSpec
    vendor: Vendor
    state: str  # "created", "<what> updated from the environment" or "unchanged"
    models: Counter[str] = field(default_factory=Counter)  # "created" / "updated" / "unchanged" -> count
    keys_added: list[str] = field(default_factory=list)  # masked
    other_models: int = 0
    other_keys: int = 0

    @property
    def changed(self) -> bool:
        return self.state != "unchanged" or bool(self.models["created"] or self.models["updated"] or self.keys_added)

    def report(self) -> list[str]:
        lines = [f"Vendor {self.spec.name!r} ({self.spec.kind}): {self._summary()}."]
        others = [
            f"{count} {noun}(s)" for count, noun in ((self.other_models, "model"), (self.other_keys, "key")) if count
        ]
        if others:
            lines.append(
                f"  {' and '.join(others)} of {self.spec.name!r} not in the environment were left as they are."
            )
        return lines

    def _summary(self) -> str:
        spec = self.spec
        if not self.changed:
            listed = [f"{len(spec.models)} model(s)"] if spec.models else []
            listed.append(f"{len(spec.keys)} key(s)")
            return f"unchanged ({' and '.join(listed)} from the environment)"
        changes = [f"{self.models[verb]} model(s) {verb}" for verb in ("created", "updated") if self.models[verb]]
        if self.keys_added:
            changes.append(f"{len(self.keys_added)} key(s) added ({', '.join(self.keys_added)})")
        summary = "; ".join(changes if self.state == "unchanged" else [self.state, *changes])
        kept_keys = len(spec.keys) - len(self.keys_added)
        if self.models["unchanged"] or kept_keys:
            summary += f"; {self.models['unchanged']} model(s) and {kept_keys} key(s) unchanged"
        return summary


def apply_vendor(spec: VendorSpec) -> VendorOutcome:
    vendor, state = _vendor_row(spec)
    outcome = VendorOutcome(spec=spec, vendor=vendor, state=state)
    outcome.models = Counter(_apply_model(model, vendor) for model in spec.models)
    outcome.other_models = vendor.models.exclude(name__in=[model.name for model in spec.models]).count()
    outcome.keys_added, outcome.other_keys = _add_keys(spec, vendor)
    return outcome


def _vendor_row(spec: VendorSpec) -> tuple[Vendor, str]:
    vendor = Vendor.objects.filter(name=spec.name).first()
    if vendor is None:
        vendor = Vendor(name=spec.name, kind=spec.kind, base_url=spec.base_url)
        validate(vendor, spec.base_var)
        vendor.save()
        return vendor, "created"
    if vendor.kind != spec.kind and not {vendor.kind, spec.kind} <= set(image_kinds()):
        raise CommandError(
            f"Vendor {spec.name!r} exists in the database as a {vendor.kind} vendor, but {spec.base_var} "
            f"configures a {spec.kind} vendor; rename or delete that vendor in admin first."
        )
    differences = (("kind", vendor.kind != spec.kind), ("base URL", vendor.base_url != spec.base_url))
    changed = [what for what, differs in differences if differs]
    if not changed:
        return vendor, "unchanged"
    vendor.base_url, vendor.kind = spec.base_url, spec.kind
    validate(vendor, spec.base_var)
    vendor.save(update_fields=["base_url", "kind", "updated_at"])
    return vendor, f"{' and '.join(changed)} updated from the environment"


def _apply_model(model: ModelSpec, vendor: Vendor) -> str:
    """Create or update the model's row; says which ("created", "updated" or "unchanged")."""
    row = ImageModel.objects.filter(name=model.name).select_related("vendor").first()
    if row is not None and row.vendor_id != vendor.pk:
        raise CommandError(
            f"Model {model.name!r} from {model.source} is already served by vendor {row.vendor.name!r} "
            "in the database; a model name must belong to one vendor."
        )
    if row is None:
        row = ImageModel(vendor=vendor, name=model.name, upstream_name=model.upstream or "")
        validate(row, model.source)
        row.save()
        return "created"
    if model.upstream is None or row.upstream_name == model.upstream:
        return "unchanged"
    row.upstream_name = model.upstream
    validate(row, model.source)
    row.save(update_fields=["upstream_name"])
    return "updated"


def _add_keys(spec: VendorSpec, vendor: Vendor) -> tuple[list[str], int]:
    """Adds the keys the vendor lacks; returns them masked, and how many stored keys the environment omits."""
    stored = set(vendor.keys.values_list("fingerprint", flat=True))
    in_environment = set()
    added = []
    for raw in spec.keys:
        fingerprint = crypto.fingerprint(raw)
        in_environment.add(fingerprint)
        if fingerprint in stored:
            continue
        key = VendorKey(vendor=vendor)
        key.secret = raw
        key.save()
        stored.add(fingerprint)
        added.append(key.masked)
    return added, len(stored - in_environment)


def apply_optimizer(spec: OptimizerSpec, vendor: Vendor) -> tuple[bool, str]:
    """Points the optimizer at ``vendor``; returns whether that changed it, and a line saying so."""
    row, created = OptimizerSettings.objects.get_or_create(pk=1)
    if not created and (row.mode, row.vendor_id, row.model) == (spec.mode, vendor.pk, spec.model):
        return False, f"Prompt optimizer: unchanged ({row.mode} mode, model {row.model!r})."
    row.mode, row.vendor, row.model = spec.mode, vendor, spec.model
    validate(row, spec.model_var)
    row.save()
    return True, f"Prompt optimizer: set to {row.mode} mode, model {row.model!r} at vendor {vendor.name!r}."


def validate(row: models.Model, source: str) -> None:
    try:
        row.full_clean()
    except ValidationError as exc:
        details = "; ".join(
            " ".join(errors) if name == NON_FIELD_ERRORS else f"{name}: {' '.join(errors)}"
            for name, errors in exc.message_dict.items()
        )
        raise CommandError(f"{source}: {details}") from None
