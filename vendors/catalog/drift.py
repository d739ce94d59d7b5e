"""How a model stands against the catalog: which values are still the catalog's, which the operator changed,
and which a newer catalog would change; and applying a newer catalog to the values still its own.

A value is the catalog's while it equals what the catalog gave (``ImageModel.catalog_values``). A field
the catalog never gave and that is empty may be filled. Anything else is the operator's and is never
touched. The same holds for the price rows, taken as one table.
"""

from __future__ import annotations

from dataclasses import dataclass

from django.db import transaction

from vendors.catalog.entries import FIELDS, CatalogEntry, catalog
from vendors.catalog.fill import PRICES, catalog_price_rows, is_empty, price_rows, prices_apply
from vendors.models import ImageModel, ModelPrice
from vendors.selectors import invalidate_routing_table

FROM_CATALOG, EDITED = "from the catalog", "changed since"


@dataclass(frozen=True)
class Difference:
    field: str  # an ImageModel field, or PRICES
    current: object
    catalog: object
    applicable: bool  # True: still the catalog's (or empty), so --apply takes the catalog's value

    def describe(self) -> str:
        whose = "newer in the catalog" if self.applicable else "the operator's, kept"
        return f"{self.field}: {_shown(self.current)} -> catalog {_shown(self.catalog)} ({whose})"


def entry_of(model: ImageModel) -> CatalogEntry | None:
    found = catalog().by_key(model.catalog_entry) if model.catalog_entry else None
    return found or catalog().find(model.vendor.kind, model.sent_name)


def field_states(model: ImageModel) -> list[tuple[str, str]]:
    """(field, state) for each value the catalog gave the model: still its own, or changed since."""
    states = []
    for name, given in model.catalog_values.items():
        if name == PRICES:
            same = price_rows(model) == given
            states.append(("prices", f"{FROM_CATALOG} ({len(given)} rows)" if same else f"{EDITED} in admin"))
        elif name in FIELDS:
            current = getattr(model, name)
            label = ImageModel._meta.get_field(name).verbose_name
            same = _same(current, given)
            states.append((label, f"{FROM_CATALOG}: {_shown(given)}" if same else f"{EDITED}: now {_shown(current)}"))
    return states


def differences(model: ImageModel, entry: CatalogEntry) -> list[Difference]:
    """Where the model differs from ``entry``: each value, and the price table."""
    found = []
    for name in FIELDS:
        wanted, current = entry.values.get(name), getattr(model, name)
        if wanted is None or _same(current, wanted):
            continue
        found.append(Difference(name, current, wanted, _still_catalogs(model, name, current)))
    if entry.prices and prices_apply():
        wanted_rows, rows = catalog_price_rows(entry), price_rows(model)
        if rows != wanted_rows:
            given = model.catalog_values.get(PRICES)
            applicable = rows == given if given is not None else not rows
            found.append(Difference(PRICES, rows, wanted_rows, applicable))
    return found


def apply(model: ImageModel, entry: CatalogEntry) -> list[Difference]:
    """Takes the catalog's values where the model's are still the catalog's; returns what it changed.
    Raises ValidationError (nothing saved) when the result would not be a valid model."""
    applied = [difference for difference in differences(model, entry) if difference.applicable]
    if not applied:
        return []
    values = dict(model.catalog_values)
    for difference in applied:
        values[difference.field] = difference.catalog
        if difference.field != PRICES:
            setattr(model, difference.field, entry.values[difference.field])
    model.catalog_values, model.catalog_entry, model.catalog_date = values, entry.key, catalog().date
    model.full_clean()
    with transaction.atomic():
        model.save()
        if any(difference.field == PRICES for difference in applied):
            model.prices.all().delete()
            ModelPrice.objects.bulk_create(
                ModelPrice(
                    model=model, quality=row.quality, max_megapixels=row.max_megapixels, price_per_image=row.price
                )
                for row in entry.prices
            )
    invalidate_routing_table()  # bulk_create sends no signal
    return applied


def _still_catalogs(model: ImageModel, name: str, current) -> bool:
    if name in model.catalog_values:
        return _same(current, model.catalog_values[name])
    return is_empty(model, name)


def _same(a, b) -> bool:
    if a in ("", None) and b in ("", None):
        return True
    if isinstance(a, int | float) and isinstance(b, int | float) and not isinstance(a, bool):
        return float(a) == float(b)
    return a == b


def _shown(value) -> str:
    if value in ("", None):
        return "(empty)"
    if isinstance(value, list):
        return f"{len(value)} price row(s)" if value else "no price rows"
    return str(value)
