"""Reading and checking the catalog file, and finding the entry for a vendor kind and an upstream name.

The file's schema is described at its top (``vendors/catalog/models.toml``). Every entry is checked
when the file is read: a bad entry is a ``CatalogError`` naming it, never a half-read catalog.
Matching: the entry of the kind whose ``upstream`` is the name (case-insensitive), else the first entry
of the kind, in file order, one of whose ``family`` globs matches the name.
"""

from __future__ import annotations

import datetime
import fnmatch
import tomllib
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from functools import cache
from pathlib import Path

from vendors.adapters import image_kinds
from vendors.adapters.base import SIZE_FORMATS
from vendors.size_rules import SizeCapability

CATALOG_FILE = Path(__file__).with_name("models.toml")
SCHEMA = 1
SIZE_FIELDS = ("allowed_sizes", "allowed_ratios", "size_multiple", "min_side", "max_side", "max_megapixels")
# Every ImageModel field the catalog fills, in the order admin shows them.
FIELDS = (
    "default_size",
    "size_format",
    *SIZE_FIELDS,
    "max_images",
    "input_images",
    "takes_mask",
    "qualities",
    "styles",
)
_INTEGERS = ("size_multiple", "min_side", "max_side", "max_images", "input_images")
_KEYS = {
    "kind", "upstream", "family", "title", "notes", "default_size", "size_format", *SIZE_FIELDS, "max_images",
    "input_images", "mask", "qualities", "styles", "prices", "prices_source", "prices_checked",
}  # fmt: skip


class CatalogError(ValueError):
    pass


@dataclass(frozen=True)
class CatalogPrice:
    quality: str  # "": any quality
    max_megapixels: Decimal | None  # None: any size
    price: Decimal

    def as_list(self) -> list:
        """The row as JSON keeps it (in ``ImageModel.catalog_values``)."""
        return price_row(self.quality, self.max_megapixels, self.price)


def price_row(quality: str, max_megapixels: Decimal | None, price: Decimal) -> list:
    """A price row as a JSON list, its numbers written one way (0.04, never 0.040)."""
    size = None if max_megapixels is None else format(max_megapixels.normalize(), "f")
    return [quality, size, format(price.normalize(), "f")]


@dataclass(frozen=True)
class CatalogEntry:
    kind: str
    upstream: str
    title: str = ""
    notes: str = ""
    family: tuple[str, ...] = ()
    values: dict = field(default_factory=dict)  # ImageModel field -> value, for the fields the entry sets
    prices: tuple[CatalogPrice, ...] = ()
    prices_source: str = ""
    prices_checked: str = ""

    @property
    def key(self) -> str:
        return f"{self.kind}:{self.upstream}"

    def matches_family(self, name: str) -> bool:
        return any(fnmatch.fnmatchcase(name.lower(), glob.lower()) for glob in self.family)


@dataclass(frozen=True)
class Catalog:
    date: str
    currency: str
    entries: tuple[CatalogEntry, ...]

    def find(self, kind: str, upstream: str) -> CatalogEntry | None:
        """The entry for a model of ``kind`` sent to its vendor as ``upstream``: exact name, then family."""
        name = upstream.strip()
        of_kind = [entry for entry in self.entries if entry.kind == kind]
        for entry in of_kind:
            if entry.upstream.lower() == name.lower():
                return entry
        return next((entry for entry in of_kind if entry.matches_family(name)), None)

    def by_key(self, key: str) -> CatalogEntry | None:
        return next((entry for entry in self.entries if entry.key == key), None)


@cache
def catalog() -> Catalog:
    """The shipped catalog, read and checked once per process."""
    return parse(CATALOG_FILE.read_text(encoding="utf-8"))


def parse(text: str) -> Catalog:
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise CatalogError(f"the catalog is not valid TOML: {exc}") from None
    if data.get("schema") != SCHEMA:
        raise CatalogError(f"the catalog's schema must be {SCHEMA}, not {data.get('schema')!r}")
    date = _date(data.get("date"), "the catalog's date")
    currency = str(data.get("currency") or "")
    if not currency.isalpha():
        raise CatalogError("the catalog needs a currency such as USD")
    entries = tuple(_entry(raw, index) for index, raw in enumerate(data.get("models") or [], start=1))
    seen: set[str] = set()
    for entry in entries:
        if entry.key.lower() in seen:
            raise CatalogError(f"entry {entry.key} is in the catalog twice")
        seen.add(entry.key.lower())
    return Catalog(date=date, currency=currency.upper(), entries=entries)


def _date(value, what: str) -> str:
    text = str(value or "")
    try:
        datetime.date.fromisoformat(text)
    except ValueError:
        raise CatalogError(f"{what} must be a date like 2026-12-01, not {text!r}") from None
    return text


def _entry(raw: dict, index: int) -> CatalogEntry:
    name = f"entry {index} ({raw.get('kind')}:{raw.get('upstream')})"
    unknown = set(raw) - _KEYS
    if unknown:
        raise CatalogError(f"{name} has unknown keys: {', '.join(sorted(unknown))}")
    if raw.get("kind") not in image_kinds():
        raise CatalogError(f"{name}: kind must be one of {', '.join(image_kinds())}")
    if not str(raw.get("upstream") or "").strip():
        raise CatalogError(f"{name}: upstream is required")
    values = _values(raw, name)
    prices = tuple(_price(row, name) for row in raw.get("prices") or [])
    if prices and not raw.get("prices_source", "").startswith("https://"):
        raise CatalogError(f"{name}: prices need a prices_source, the https:// page they come from")
    checked = _date(raw.get("prices_checked"), f"{name}: prices_checked") if prices else ""
    return CatalogEntry(
        kind=raw["kind"],
        upstream=raw["upstream"].strip(),
        title=str(raw.get("title") or ""),
        notes=str(raw.get("notes") or ""),
        family=tuple(str(glob) for glob in raw.get("family") or []),
        values=values,
        prices=prices,
        prices_source=str(raw.get("prices_source") or ""),
        prices_checked=checked,
    )


def _values(raw: dict, name: str) -> dict:
    values = {key: raw[key] for key in FIELDS if key in raw and raw[key] not in ("", None)}
    if "mask" in raw:
        values["takes_mask"] = bool(raw["mask"])
    for key in ("qualities", "styles"):
        if key in values:
            if not isinstance(values[key], list) or not all(isinstance(item, str) for item in values[key]):
                raise CatalogError(f"{name}: {key} must be a list of strings")
            values[key] = ", ".join(values[key])
    for key in _INTEGERS:
        if key in values and (not isinstance(values[key], int) or values[key] < (0 if key == "input_images" else 1)):
            raise CatalogError(f"{name}: {key} must be a whole number of at least 1 (input_images: 0)")
    if "max_megapixels" in values:
        values["max_megapixels"] = float(values["max_megapixels"])
    if values.get("size_format", "") not in ("", *SIZE_FORMATS):
        raise CatalogError(f"{name}: size_format must be one of {', '.join(SIZE_FORMATS)}")
    _check_sizes(values, name)
    return values


def _check_sizes(values: dict, name: str) -> None:
    try:
        capability = SizeCapability.parse(
            sizes=values.get("allowed_sizes", ""),
            ratios=values.get("allowed_ratios", ""),
            multiple_of=values.get("size_multiple"),
            min_side=values.get("min_side"),
            max_side=values.get("max_side"),
            max_megapixels=values.get("max_megapixels"),
        )
    except ValueError as exc:
        raise CatalogError(f"{name}: {exc}") from None
    default = values.get("default_size")
    if default:
        width, _, height = default.partition("x")
        if not (width.isdigit() and height.isdigit()):
            raise CatalogError(f"{name}: default_size must be WxH, not {default!r}")
        if capability.sizes and (int(width), int(height)) not in capability.sizes:
            raise CatalogError(f"{name}: default_size {default} is not one of its allowed sizes")


def _price(row: dict, name: str) -> CatalogPrice:
    if set(row) - {"quality", "up_to_megapixels", "price"} or "price" not in row:
        raise CatalogError(f"{name}: a price row has quality, up_to_megapixels and price, not {sorted(row)}")
    try:
        price = Decimal(str(row["price"]))
        size = None if row.get("up_to_megapixels") is None else Decimal(str(row["up_to_megapixels"]))
    except InvalidOperation:
        raise CatalogError(f"{name}: the price row {row} has a number that does not parse") from None
    if price < 0 or (size is not None and size <= 0):
        raise CatalogError(f"{name}: the price row {row} has a negative price or a size of 0")
    # The price table's columns (ModelPrice): megapixels to 3 decimals, prices to 6.
    if (size is not None and size != round(size, 3)) or price != round(price, 6):
        raise CatalogError(f"{name}: the price row {row} has more decimals than the price table keeps")
    return CatalogPrice(quality=str(row.get("quality") or "").strip().lower(), max_megapixels=size, price=price)
