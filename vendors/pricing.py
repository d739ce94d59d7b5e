"""The price of one image, from a model's rows of the price table (``ModelPrice``), read from the routing table.

A row holds for a quality (blank: any) and for images up to a number of megapixels (blank: any size).
The image's size class is the size sent to the vendor, which is what vendors bill by. Of the rows
that hold, one for the request's very quality wins over a blank one, and then the smallest size class.
No row that holds: the price is unknown (None), never 0.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from decimal import Decimal

from vendors.size_rules import MEGAPIXEL


@dataclass(frozen=True)
class PriceRow:
    max_megapixels: Decimal | None  # None: any size
    quality: str  # lower case; "": any quality
    price: Decimal  # per image


def megapixels(width: int, height: int) -> Decimal:
    return Decimal(width * height) / MEGAPIXEL


def price_per_image(rows: Iterable[PriceRow], width: int, height: int, quality: str | None) -> Decimal | None:
    """The price of one image of ``width`` x ``height`` at ``quality``; None when no row holds for it."""
    area = megapixels(width, height)
    wanted = (quality or "").strip().lower()
    fitting = [
        row
        for row in rows
        if row.quality in {"", wanted} and (row.max_megapixels is None or area <= row.max_megapixels)
    ]
    if not fitting:
        return None

    def rank(row: PriceRow) -> tuple:
        return (row.quality != wanted, row.max_megapixels is None, row.max_megapixels or 0)

    return min(fitting, key=rank).price
