"""Writing a vendor spec as rows (the vendor, its models and keys) under the rules in ``memory``.

What is new to the environment is created: a vendor whose variables were not set at the last import,
a model not in that vendor's list then, a key not in its key list then. What the environment listed
at the last import but the database lacks was deleted in admin, and stays deleted. A vendor of that
name that is not the kind of vendor the variables make, or a model name another vendor serves that no
import put there, is skipped with a warning: the admin made it, and the rest of the import goes on.

Every row is validated (``validation``) before it is saved; a problem becomes a ``CommandError``
that names the environment variable it came from (the whole import is then rolled back).
"""

from __future__ import annotations

from core.redaction import mask
from imagegen.env_import.image_models import apply_models
from imagegen.env_import.memory import NEVER, ImportMemory, merge, vendor_target
from imagegen.env_import.outcome import VendorOutcome, drift, replaced
from imagegen.env_import.specs import VendorSpec
from imagegen.env_import.validation import validate
from vendors import crypto
from vendors.adapters import image_kinds
from vendors.models import Vendor, VendorKey


def apply_vendor(spec: VendorSpec, memory: ImportMemory) -> VendorOutcome:
    outcome = VendorOutcome(spec=spec)
    last = memory.vendor(spec.name)
    vendor = Vendor.objects.filter(name=spec.name).first()
    if vendor is None and last is not None:
        outcome.state = (
            "deleted in admin after the last import, so not re-created, nor its models and keys "
            "(delete its row under Environment imports in admin to have the next import create it)"
        )
        return outcome
    if vendor is not None and vendor.kind != spec.kind and not {vendor.kind, spec.kind} <= set(image_kinds()):
        outcome.state = "skipped"
        outcome.warnings.append(
            f"Vendor {spec.name!r} is a {vendor.kind} vendor in the database, but {spec.base_var} configures a "
            f"{spec.kind} vendor: skipped (rename or delete that vendor in admin to import it)."
        )
        return outcome
    outcome.vendor, outcome.state = _vendor_row(spec, vendor, last or {}, outcome)
    imported_models = apply_models(spec, outcome.vendor, memory, outcome)
    keys = _apply_keys(spec, outcome.vendor, (last or {}).get("keys", []), outcome)
    memory.remember(
        vendor_target(spec.name),
        {"kind": spec.kind, "base_url": spec.base_url, "keys": keys, "models": imported_models},
    )
    return outcome


def _vendor_row(spec: VendorSpec, vendor: Vendor | None, last: dict, outcome: VendorOutcome) -> tuple[Vendor, str]:
    if vendor is None:
        vendor = Vendor(name=spec.name, kind=spec.kind, base_url=spec.base_url)
        validate(vendor, spec.base_var)
        vendor.save()
        return vendor, "created"
    fields = (
        ("kind", "kind", spec.kind, spec.kind_var or spec.base_var, True),
        ("base URL", "base_url", spec.base_url, spec.base_var, False),  # a URL is never shown
    )
    written = []
    for label, attr, env, var, shown in fields:
        current = getattr(vendor, attr)
        result = merge(env, last.get(attr, NEVER), current)
        subject = f"vendor {spec.name!r} {label}"
        if result.drift:
            outcome.warnings.append(drift(subject, var, repr(current), repr(env)) if shown else drift(subject, var))
        if result.replaces_admin:
            outcome.warnings.append(replaced(subject, var))
        if result.write:
            setattr(vendor, attr, env)
            written.append((label, attr))
    if not written:
        return vendor, "unchanged"
    validate(vendor, spec.base_var)
    vendor.save(update_fields=[attr for _, attr in written] + ["updated_at"])
    return vendor, f"{' and '.join(label for label, _ in written)} updated from the environment"


def _apply_keys(spec: VendorSpec, vendor: Vendor, listed_before: list[str], outcome: VendorOutcome) -> list[str]:
    """Adds the keys new to the environment that the vendor lacks; returns the environment's fingerprints."""
    stored = set(vendor.keys.values_list("fingerprint", flat=True))
    in_environment = []
    for raw in spec.keys:
        fingerprint = crypto.fingerprint(raw)
        in_environment.append(fingerprint)
        if fingerprint in stored:
            continue
        if fingerprint in listed_before:  # it was imported, and the admin deleted it since
            outcome.keys_deleted.append(mask(raw))
            continue
        key = VendorKey(vendor=vendor)
        key.secret = raw
        key.save()
        stored.add(fingerprint)
        outcome.keys_added.append(key.masked)
    outcome.other_keys = len(stored - set(in_environment))
    return sorted(in_environment)
