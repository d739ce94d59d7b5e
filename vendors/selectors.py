"""Reading vendor configuration for the request path, from an in-memory routing table.

Building the table costs four queries; every worker keeps it for ROUTING_CACHE_SECONDS, and a
save or delete in this process (admin, import_env) drops it at once (``vendors.signals``).

Each model's route carries its size rules (parsed once here) and its fallback chain: the routes of
the enabled models to try after it, in order, following ``ImageModel.fallback`` past disabled
models. The chain is flat: a fallback's own ``fallbacks`` are empty, since the asked-for model's
chain already lists everything after it.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass, field, replace

from django.core.exceptions import ImproperlyConfigured

from core.db import Snapshot
from vendors.models import ImageModel, ModelPrice, Vendor, VendorKey
from vendors.pricing import PriceRow
from vendors.size_rules import SizeCapability

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class KeyRef:
    id: int
    label: str
    secret: str
    state: str = "active"  # the verdict on the row when the table was built (VendorKey.Status)
    resting_until: float | None = None  # the end of the rest on the row then (a Unix time), if any


@dataclass(frozen=True)
class VendorRoute:
    id: int
    name: str
    kind: str
    base_url: str
    timeout: float
    keys: tuple[KeyRef, ...]
    requests_per_minute: int | None = None  # caps (vendors.caps); None: none
    max_concurrent_calls: int | None = None
    failures_to_disable: int | None = 5  # evidence before a key is auto-disabled (vendors.key_evidence)
    failure_window: int = 20


@dataclass(frozen=True)
class ModelRoute:
    name: str
    upstream_name: str
    default_size: str
    created: int
    vendor: VendorRoute
    size_format: str = ""  # one of vendors.adapters.base.SIZE_FORMATS; "" = the adapter's usual way
    capability: SizeCapability = SizeCapability()
    fallbacks: tuple[ModelRoute, ...] = ()  # the enabled models to try after this one, in order
    fallback_on_content_policy: bool = False
    prices: tuple[PriceRow, ...] = ()  # the model's rows of the price table; empty: its price is unknown
    retention_days: int | None = None  # None: the gateway's default; 0: forever
    image_cache_seconds: int = 0  # the opt-in image cache keeps an answer this long; 0: off
    max_images: int | None = None  # most images per call; None: the adapter's own limit
    input_images: int | None = None  # input images the model takes; None: unknown
    takes_mask: bool = False
    qualities: tuple[str, ...] = ()
    styles: tuple[str, ...] = ()

    @property
    def fallback_names(self) -> tuple[str, ...]:
        return tuple(route.name for route in self.fallbacks)

    @property
    def chain(self) -> tuple[ModelRoute, ...]:
        """This model, then its fallbacks: the order a request tries them in."""
        return (self, *self.fallbacks)


@dataclass
class RoutingTable:
    models: dict[str, ModelRoute] = field(default_factory=dict)
    vendors: dict[int, VendorRoute] = field(default_factory=dict)

    def model_names(self) -> list[str]:
        return sorted(self.models)


def build_routing_table() -> RoutingTable:
    table = RoutingTable()
    keys = _usable_keys()
    for vendor in Vendor.objects.filter(enabled=True):
        table.vendors[vendor.id] = VendorRoute(
            id=vendor.id,
            name=vendor.name,
            kind=vendor.kind,
            base_url=vendor.base_url,
            timeout=vendor.timeout,
            keys=tuple(keys.get(vendor.id, ())),
            requests_per_minute=vendor.requests_per_minute,
            max_concurrent_calls=vendor.max_concurrent_calls,
            failures_to_disable=vendor.failures_to_disable,
            failure_window=vendor.failure_window,
        )
    # Every model, disabled ones too: a chain runs on through them to the next enabled one.
    models = {model.id: model for model in ImageModel.objects.all()}

    def serves(model: ImageModel) -> bool:
        return model.enabled and model.vendor_id in table.vendors

    prices = _prices()
    plain = {
        model.name: _route(model, table.vendors[model.vendor_id], prices.get(model.id, ()))
        for model in models.values()
        if serves(model)
    }
    for model in models.values():
        if serves(model):
            chain = _fallback_names(model, models, serves)
            table.models[model.name] = replace(plain[model.name], fallbacks=tuple(plain[name] for name in chain))
    return table


def _usable_keys() -> dict[int, list[KeyRef]]:
    keys: dict[int, list[KeyRef]] = {}
    # Resting keys too: the shared cache keeps them out until their rest ends.
    usable = VendorKey.objects.filter(enabled=True, vendor__enabled=True).exclude(status=VendorKey.Status.AUTO_DISABLED)
    for key in usable.select_related("vendor").order_by("id"):
        try:
            secret = key.secret
        except ImproperlyConfigured as exc:
            # One unreadable key must not take every model down: skip it and say why.
            log.error("vendor %s key %s skipped: %s", key.vendor.name, key.display_label, exc)
            continue
        resting = key.cooling_until.timestamp() if key.status == key.Status.COOLING and key.cooling_until else None
        ref = KeyRef(id=key.id, label=key.display_label, secret=secret, state=key.status, resting_until=resting)
        keys.setdefault(key.vendor_id, []).append(ref)
    return keys


def _prices() -> dict[int, tuple[PriceRow, ...]]:
    prices: dict[int, list[PriceRow]] = {}
    for model_id, max_megapixels, quality, price in ModelPrice.objects.values_list(
        "model_id", "max_megapixels", "quality", "price_per_image"
    ):
        prices.setdefault(model_id, []).append(PriceRow(max_megapixels, quality, price))
    return {model_id: tuple(rows) for model_id, rows in prices.items()}


def _route(model: ImageModel, vendor: VendorRoute, prices: tuple[PriceRow, ...] = ()) -> ModelRoute:
    return ModelRoute(
        name=model.name,
        upstream_name=model.sent_name,
        default_size=model.default_size,
        created=int(model.created_at.timestamp()),
        vendor=vendor,
        size_format=model.size_format,
        capability=_capability(model),
        fallback_on_content_policy=model.fallback_on_content_policy,
        prices=prices,
        retention_days=model.retention_days,
        image_cache_seconds=model.image_cache_seconds,
        max_images=model.max_images,
        input_images=model.input_images,
        takes_mask=model.takes_mask,
        qualities=_listed(model.qualities),
        styles=_listed(model.styles),
    )


def _listed(text: str) -> tuple[str, ...]:
    return tuple(item.strip() for item in text.replace(";", ",").split(",") if item.strip())


def _capability(model: ImageModel) -> SizeCapability:
    try:
        return model.size_capability
    except ValueError as exc:
        # Rows saved past validation must not take every model down: serve this one without size rules.
        log.error("model %s: size rules ignored: %s", model.name, exc)
        return SizeCapability()


def _fallback_names(
    model: ImageModel, models: dict[int, ImageModel], serves: Callable[[ImageModel], bool]
) -> tuple[str, ...]:
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


async def route_for(model: str) -> ModelRoute | None:
    """The route of a public model name, with its fallback chain; None when no enabled model has it."""
    return (await routing_table()).models.get(model)


async def vendor_route(vendor_id: int | None) -> VendorRoute | None:
    """An enabled vendor with its usable keys; None when it is missing or disabled."""
    return (await routing_table()).vendors.get(vendor_id) if vendor_id is not None else None
