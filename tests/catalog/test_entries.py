"""The shipped catalog file: every entry checked, every kind covered, matching by name and family."""

import pytest

from vendors.adapters import image_kinds
from vendors.catalog.entries import CatalogError, catalog, parse
from vendors.size_rules import SizeCapability

ENTRIES = catalog().entries


def test_the_shipped_catalog_reads_and_covers_every_image_kind():
    assert catalog().date and catalog().currency == "USD"
    assert {entry.kind for entry in ENTRIES} == set(image_kinds())


@pytest.mark.parametrize("entry", ENTRIES, ids=lambda entry: entry.key)
def test_every_entry_has_size_rules_that_parse_and_prices_with_a_source(entry):
    values = entry.values
    SizeCapability.parse(
        sizes=values.get("allowed_sizes", ""),
        ratios=values.get("allowed_ratios", ""),
        multiple_of=values.get("size_multiple"),
        min_side=values.get("min_side"),
        max_side=values.get("max_side"),
        max_megapixels=values.get("max_megapixels"),
    )
    assert values.get("max_images", 0) >= 1
    assert "input_images" in values
    if entry.prices:
        assert entry.prices_source.startswith("https://") and entry.prices_checked
    else:
        assert "price" in entry.notes.lower()  # an entry without prices says why


@pytest.mark.parametrize(
    ("kind", "name", "key"),
    [
        ("openai_images", "dall-e-3", "openai_images:dall-e-3"),
        ("openai_images", "DALL-E-3", "openai_images:dall-e-3"),
        ("openai_images", "gpt-image-1-mini", "openai_images:gpt-image-1-mini"),  # exact wins over gpt-image-1's family
        ("openai_images", "gpt-image-1-2025-04-15", "openai_images:gpt-image-1"),
        ("siliconflow", "Pro/black-forest-labs/FLUX.1-schnell", "siliconflow:black-forest-labs/FLUX.1-schnell"),
        ("openai_images", "black-forest-labs/FLUX.1-schnell", "openai_images:black-forest-labs/FLUX.1-schnell"),
        ("chat_image", "google/gemini-2.5-flash-image-preview", "chat_image:google/gemini-2.5-flash-image"),
    ],
)
def test_an_entry_is_found_by_exact_name_then_by_family(kind, name, key):
    assert catalog().find(kind, name).key == key


def test_an_unknown_name_or_a_name_of_another_kind_finds_nothing():
    assert catalog().find("openai_images", "my-own-model") is None
    assert catalog().find("fal", "dall-e-3") is None


BASE = 'schema = 1\ndate = "2026-12-01"\ncurrency = "USD"\n[[models]]\nkind = "fal"\nupstream = "x/y"\n'


@pytest.mark.parametrize(
    ("extra", "problem"),
    [
        ('allowed_sizes = "1024"', "is not a size"),
        ("min_side = 2000\nmax_side = 1000", "smallest side"),
        ('allowed_sizes = "512x512"\ndefault_size = "1024x1024"', "not one of its allowed sizes"),
        ('size_format = "pixels"', "size_format"),
        ("max_images = 0", "max_images"),
        ('colour = "red"', "unknown keys"),
        ('prices = [{ price = "0.01" }]', "prices_source"),
        ('prices_source = "https://x.example"\nprices_checked = "2026-12-01"\nprices = [{ price = "abc" }]', "parse"),
        (
            'prices_source = "https://x.example"\nprices_checked = "2026-12-01"\n'
            'prices = [{ up_to_megapixels = 0.0625, price = "0.01" }]',
            "decimals",
        ),
    ],
)
def test_a_bad_entry_is_refused_naming_it(extra, problem):
    with pytest.raises(CatalogError, match=problem) as caught:
        parse(BASE + extra)
    assert "fal:x/y" in str(caught.value)


def test_a_duplicate_entry_is_refused():
    with pytest.raises(CatalogError, match="twice"):
        parse(BASE + 'max_images = 1\n[[models]]\nkind = "fal"\nupstream = "X/Y"\n')
