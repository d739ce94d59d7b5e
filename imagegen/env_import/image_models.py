"""Writing a vendor's model list: create what is new, merge a model's vendor and upstream name.

A model's two seeded fields follow ``memory.merge``: its vendor (which variable lists it) and its
upstream name (only when the entry names one: a bare ``name`` says nothing about it). Everything
else about a model (sizes, fallback, enabled) belongs to admin alone; a model the import creates
starts with its catalog entry's values and prices (``vendors.catalog.fill``), as one made in admin does.
"""

from __future__ import annotations

from imagegen.env_import.memory import NEVER, ImportMemory, merge
from imagegen.env_import.outcome import VendorOutcome, drift, replaced
from imagegen.env_import.specs import ModelSpec, VendorSpec
from imagegen.env_import.validation import validate
from vendors.catalog.fill import create_prices, fill_fields, summary
from vendors.models import ImageModel, Vendor


def apply_models(spec: VendorSpec, vendor: Vendor, memory: ImportMemory, outcome: VendorOutcome) -> dict:
    """Applies each model; returns what to remember (name -> upstream) for those the import answers for."""
    imported = {model.name: model.upstream for model in spec.models if _apply_model(model, vendor, memory, outcome)}
    outcome.other_models = vendor.models.exclude(name__in=[model.name for model in spec.models]).count()
    return imported


def _apply_model(model: ModelSpec, vendor: Vendor, memory: ImportMemory, outcome: VendorOutcome) -> bool:
    """Creates or merges one model's row; False when it was skipped (an admin-made model of that name)."""
    row = ImageModel.objects.filter(name=model.name).select_related("vendor").first()
    imported_by = memory.vendor_of_model(model.name)
    if row is None:
        if imported_by == vendor.name:
            outcome.models_deleted.append(model.name)
        else:
            row = ImageModel(vendor=vendor, name=model.name, upstream_name=model.upstream or "")
            filled = fill_fields(row)
            validate(row, model.source)
            row.save()
            outcome.models["created"] += 1
            if line := summary(row, filled, create_prices(row)):
                outcome.catalog.append(line)
        return True
    if imported_by is None and row.vendor_id != vendor.pk:
        outcome.warnings.append(
            f"Model {model.name!r} from {model.source} is already served by vendor {row.vendor.name!r}, made in "
            "admin: skipped (a model name belongs to one vendor; rename or delete one of them to import it)."
        )
        return False
    outcome.models[_merge_model(row, model, vendor, memory, outcome)] += 1
    return True


def _merge_model(row: ImageModel, model: ModelSpec, vendor: Vendor, memory: ImportMemory, outcome) -> str:
    """Merges the model's vendor and upstream name; says "updated" or "unchanged"."""
    subject = f"model {model.name!r}"
    seeded = [("vendor", vendor, memory.vendor_of_model(model.name) or NEVER, row.vendor.name, vendor.name)]
    if model.upstream is not None:
        upstream = memory.upstream_of_model(model.name)
        seeded.append(("upstream_name", model.upstream, upstream, row.upstream_name, model.upstream))
    written = []
    for attr, value, last, current, env in seeded:
        result = merge(env, last, current)
        label = f"{subject} {attr.replace('_', ' ')}"
        if result.drift:
            outcome.warnings.append(drift(label, model.source, repr(current), repr(env)))
        if result.replaces_admin:
            outcome.warnings.append(replaced(label, model.source))
        if result.write:
            setattr(row, attr, value)
            written.append(attr)
    if not written:
        return "unchanged"
    validate(row, model.source)
    row.save(update_fields=written)
    return "updated"
