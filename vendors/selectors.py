"""Reading vendor configuration for the request path, from an in-memory routing table.

Building the table costs three queries; every worker keeps it for ROUTING_CACHE_SECONDS, and a
save or delete in this process (admin, import_env) drops it at once (``vendors.signals``).

Each model's route carries its size rules (parsed once here) and its fallback chain: the enabled
models to try after it, in order, following ``ImageModel.fallback`` past disabled models.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field

from django.core.exceptions import ImproperlyConfigured

from core.db import Snapshot
from vendors.adapters import adapter_class
from vendors.adapters.base import Adapter, VendorTarget
from vendors.models import ImageModel, Vendor, VendorKey
from vendors.size_rules import SizeCapability

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class KeyRef:
    id: int
    label: str
    secret: str


@dataclass(frozen=True)
class VendorRoute:
    id: int
    name: str
    kind: str
    base_url: str
    timeout: float
    keys: tuple[KeyRef, ...]

    def adapter(self) -> Adapter:
        return adapter_class(self.kind)(VendorTarget(name=self.name, base_url=self.base_url, timeout=self.timeout))


@dataclass(frozen=True)
class ModelRoute:
    name: str
    upstream_name: str
    default_size: str
    created: int
    vendor: VendorRoute
    size_format: str = ""  # one of vendors.adapters.base.SIZE_FORMATS; "" = the adapter's usual way
    capability: SizeCapability = SizeCapability()
    fallbacks: tuple[str, ...] = ()  # enabled model names to try after this one, in order
    fallback_on_content_policy: bool = False


@dataclass
class RoutingTable:
    models: dict[str, ModelRoute] = field(default_factory=dict)
    vendors: dict[int, VendorRoute] = field(default_factory=dict)

    def model_names(self) -> list[str]:
        return sorted(self.models)


def build_routing_table() -> RoutingTable:
    keys: dict[int, list[KeyRef]] = {}
    usable = VendorKey.objects.filter(enabled=True, status=VendorKey.Status.ACTIVE, vendor__enabled=True)
    for key in usable.select_related("vendor").order_by("id"):
        try:
            secret = key.secret
        except ImproperlyConfigured as exc:
            # One unreadable key must not take every model down: skip it and say why.
            log.error("vendor %s key %s skipped: %s", key.vendor.name, key.display_label, exc)
            continue
        keys.setdefault(key.vendor_id, []).append(KeyRef(id=key.id, label=key.display_label, secret=secret))
    table = RoutingTable()
    for vendor in Vendor.objects.filter(enabled=True):
        table.vendors[vendor.id] = VendorRoute(
            id=vendor.id,
            name=vendor.name,
            kind=vendor.kind,
            base_url=vendor.base_url,
            timeout=vendor.timeout,
            keys=tuple(keys.get(vendor.id, ())),
        )
    # Every model, disabled ones too: a chain runs on through them to the next enabled one.
    models = {model.id: model for model in ImageModel.objects.all()}

    def serves(model: ImageModel) -> bool:
        return model.enabled and model.vendor_id in table.vendors

    for model in models.values():
        if not serves(model):
            continue
        table.models[model.name] = ModelRoute(
            name=model.name,
            upstream_name=model.sent_name,
            default_size=model.default_size,
            created=int(model.created_at.timestamp()),
            vendor=table.vendors[model.vendor_id],
            size_format=model.size_format,
            capability=_capability(model),
            fallbacks=_fallbacks(model, models, serves),
            fallback_on_content_policy=model.fallback_on_content_policy,
        )
    return table


def _capability(model: ImageModel) -> SizeCapability:
    try:
        return model.size_capability
    except ValueError as exc:
        # Rows saved past validation must not take every model down: serve this one without size rules.
        log.error("model %s: size rules ignored: %s", model.name, exc)
        return SizeCapability()


def _fallbacks(model: ImageModel, models: dict[int, ImageModel], serves) -> tuple[str, ...]:
    chain: list[str] = []
    visited = {model.id}
    following = model.fallback_id
    while following is not None and following not in visited and following in models:
        visited.add(following)
        candidate = models[following]
        if serves(candidate):
            chain.append(candidate.name)
        following = candidate.fallback_id
    return tuple(chain)


_routing = Snapshot(build_routing_table)
routing_table = _routing.get
invalidate_routing_table = _routing.invalidate
