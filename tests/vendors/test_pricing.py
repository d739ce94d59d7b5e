"""Which row of a model's price table holds for an image: its size class and quality."""

from decimal import Decimal

import pytest

from vendors.pricing import PriceRow, megapixels, price_per_image

ROWS = (
    PriceRow(Decimal("0.25"), "", Decimal("0.01")),
    PriceRow(Decimal("1.0"), "", Decimal("0.03")),
    PriceRow(None, "", Decimal("0.10")),
    PriceRow(Decimal("1.0"), "hd", Decimal("0.08")),
    PriceRow(None, "hd", Decimal("0.12")),
)


def test_a_megapixel_is_1024_by_1024_as_the_size_rules_count_it():
    assert megapixels(1024, 1024) == 1
    assert megapixels(512, 512) == Decimal("0.25")


@pytest.mark.parametrize(
    ("width", "height", "quality", "price"),
    [
        (512, 512, None, "0.01"),  # exactly at a class's limit: that class
        (513, 512, None, "0.03"),
        (1024, 1024, "", "0.03"),
        (1024, 1025, None, "0.10"),
        (512, 512, "hd", "0.08"),  # a row for the quality beats a cheaper one for any quality
        (2048, 2048, " HD ", "0.12"),
        (512, 512, "low", "0.01"),  # a quality without rows of its own: the rows for any quality
    ],
)
def test_the_smallest_size_class_that_holds_wins_and_the_quality_before_it(width, height, quality, price):
    assert price_per_image(ROWS, width, height, quality) == Decimal(price)


def test_no_row_that_holds_means_no_price_rather_than_zero():
    rows = (PriceRow(Decimal("1.0"), "", Decimal("0.03")), PriceRow(None, "hd", Decimal("0.12")))

    assert price_per_image(rows, 2048, 2048, None) is None
    assert price_per_image((), 64, 64, None) is None
