"""Filling a new image model from its catalog entry: empty fields, then price rows. The operator's values win.

A model's entry is found by its vendor's kind and the name it is sent as (``entries.Catalog.find``).
Only empty fields are filled. The size rules are one set: when the operator's own size values and the
catalog's together would not make sense (a default size the allowed sizes lack), none of the catalog's
size values are taken. Price rows are created only for a model with none, and only when the catalog's
currency is ``PRICE_CURRENCY``. What was taken is remembered on the model (``catalog_values``, with
``catalog_entry`` and ``catalog_date``), so admin can show it and ``manage.py catalog`` can tell the
catalog's values from the operator's later edits.
"""

from __future__ import annotations

from django.conf import settings

from vendors.catalog.entries import FIELDS, SIZE_FIELDS, CatalogEntry, catalog, price_row
from vendors.models import ImageModel, ModelPrice
from vendors.selectors import invalidate_routing_table
from vendors.validation import size_rule_problems

PRICES = "prices"  # the key of the price rows in ImageModel.catalog_values
_SIZE_SET = ("default_size", *SIZE_FIELDS)


def entry_for(model: ImageModel) -> CatalogEntry | None:
    if not model.vendor_id:
        return None
    return catalog().find(model.vendor.kind, model.sent_name)


def is_empty(model: ImageModel, name: str) -> bool:
    value = getattr(model, name)
    return value in ("", None) or (name == "takes_mask" and value is False)


def fill_fields(model: ImageModel, entry: CatalogEntry | None = None) -> list[str]:
    """Sets the model's empty fields from its catalog entry and records them; returns their names. No save."""
    entry = entry or entry_for(model)
    if entry is None:
        return []
    filled = [name for name in FIELDS if name in entry.values and is_empty(model, name)]
    for name in filled:
        setattr(model, name, entry.values[name])
    if size_rule_problems(model):  # the catalog's size rules clash with the operator's: keep the operator's
        for name in [name for name in filled if name in _SIZE_SET]:
            setattr(model, name, ImageModel._meta.get_field(name).get_default())
            filled.remove(name)
    model.catalog_entry = entry.key
    model.catalog_date = catalog().date
    model.catalog_values = {name: entry.values[name] for name in filled}
    return filled


def create_prices(model: ImageModel, entry: CatalogEntry | None = None) -> int:
    """Creates the catalog's price rows for a saved model that has none; returns how many."""
    entry = entry or (catalog().by_key(model.catalog_entry) if model.catalog_entry else entry_for(model))
    if entry is None or not entry.prices or not prices_apply() or model.prices.exists():
        return 0
    ModelPrice.objects.bulk_create(
        ModelPrice(model=model, quality=row.quality, max_megapixels=row.max_megapixels, price_per_image=row.price)
        for row in entry.prices
    )
    model.catalog_values = {**model.catalog_values, PRICES: catalog_price_rows(entry)}
    model.catalog_entry = entry.key
    model.catalog_date = catalog().date
    ImageModel.objects.filter(pk=model.pk).update(
        catalog_values=model.catalog_values, catalog_entry=model.catalog_entry, catalog_date=model.catalog_date
    )
    invalidate_routing_table()  # bulk_create and update() send no signal: drop the routing table held here
    return len(entry.prices)


def prices_apply() -> bool:
    """Whether the catalog's prices are in the gateway's currency (else they are never copied)."""
    return catalog().currency == settings.PRICE_CURRENCY


def price_rows(model: ImageModel) -> list[list]:
    """The model's price rows as ``CatalogPrice.as_list`` writes them, to compare with the catalog's."""
    return sorted(
        (price_row(row.quality, row.max_megapixels, row.price_per_image) for row in model.prices.all()),
        key=_row_order,
    )


def catalog_price_rows(entry: CatalogEntry) -> list[list]:
    return sorted((row.as_list() for row in entry.prices), key=_row_order)


def _row_order(row: list) -> tuple:
    return row[0], row[1] is None, float(row[1] or 0), row[2]


def summary(model: ImageModel, filled: list[str], prices: int) -> str:
    """What the catalog gave a new model, in a sentence; "" when it gave nothing."""
    if not filled and not prices:
        return ""
    parts = [", ".join(filled)] if filled else []
    if prices:
        parts.append(f"{prices} price row(s)")
    return f"{model.name}: from the catalog of {model.catalog_date} ({model.catalog_entry}): {'; '.join(parts)}."
