"""Writing the optimizer's settings from ``OPENAI_MODEL`` or ``OPENAI_MODEL_REASONING``.

Mode, vendor and model are one value under ``memory.merge``: they only make sense together (a mode
that is on needs a vendor and a model), so the environment's triple replaces the admin's whole or
not at all. The time budget and word limit belong to admin alone.
"""

from __future__ import annotations

from imagegen.env_import.memory import NEVER, OPTIMIZER, ImportMemory, merge
from imagegen.env_import.outcome import drift, replaced
from imagegen.env_import.specs import OptimizerSpec
from imagegen.env_import.validation import validate
from imagegen.models import OptimizerSettings
from vendors.models import Vendor

SUBJECT = "the prompt optimizer's mode, vendor and model"


def apply_optimizer(spec: OptimizerSpec, vendor: Vendor | None, memory: ImportMemory) -> tuple[bool, str, list[str]]:
    """Points the optimizer at ``vendor`` when the environment says so.

    Returns whether that changed it, a line saying what it is now, and warnings.
    """
    if vendor is None:
        return False, f"Prompt optimizer: left as it is (vendor {spec.vendor.name!r} was not imported).", []
    env = {"mode": str(spec.mode), "vendor": vendor.name, "model": spec.model}
    row = OptimizerSettings.objects.filter(pk=1).select_related("vendor").first()
    current = _triple(row) if row is not None else None
    # No row yet: nothing to keep, whatever was imported before.
    result = merge(env, (memory.optimizer() if row is not None else None) or NEVER, current)
    memory.remember(OPTIMIZER, env)
    if result.drift:
        warning = drift("the prompt optimizer", spec.model_var, _describe(current), _describe(env))
        return False, f"Prompt optimizer: kept as set in admin ({_describe(current)}).", [warning]
    if not result.write:
        return False, f"Prompt optimizer: unchanged ({_describe(current)}).", []
    row = row or OptimizerSettings(pk=1)
    row.mode, row.vendor, row.model = spec.mode, vendor, spec.model
    validate(row, spec.model_var)
    row.save()
    warnings = [replaced(SUBJECT, spec.model_var)] if result.replaces_admin else []
    return True, f"Prompt optimizer: set to {_describe(env)}.", warnings


def _triple(row: OptimizerSettings) -> dict:
    return {"mode": str(row.mode), "vendor": row.vendor.name if row.vendor else None, "model": row.model}


def _describe(settings: dict) -> str:
    vendor = repr(settings["vendor"]) if settings["vendor"] else "none"
    return f"{settings['mode']} mode, model {settings['model']!r} at vendor {vendor}"
