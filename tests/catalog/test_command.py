"""manage.py catalog: the list, the differences, and applying a newer catalog only where its values are kept."""

from decimal import Decimal
from io import StringIO

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError

from vendors.catalog import entries
from vendors.catalog.fill import create_prices, fill_fields
from vendors.models import ImageModel, Vendor

pytestmark = [pytest.mark.django_db]


def catalog_command(*args) -> str:
    out = StringIO()
    call_command("catalog", *args, stdout=out)
    return out.getvalue()


@pytest.fixture
def dall_e_3():
    vendor = Vendor.objects.create(name="openai", kind="openai_images", base_url="https://api.openai.com/v1")
    model = ImageModel(vendor=vendor, name="dalle", upstream_name="dall-e-3")
    fill_fields(model)
    model.save()
    create_prices(model)
    return model


@pytest.fixture
def newer_catalog(monkeypatch):
    """The shipped catalog with a later date, where DALL·E 3 has a fourth size, a new style and a new price."""
    text = entries.CATALOG_FILE.read_text(encoding="utf-8").replace('date = "2026-12-01"', 'date = "2027-03-01"', 1)
    text = text.replace(
        'allowed_sizes = "1024x1024, 1792x1024, 1024x1792"',
        'allowed_sizes = "1024x1024, 1792x1024, 1024x1792, 512x512"',
    )
    text = text.replace('styles = ["vivid", "natural"]', 'styles = ["vivid", "natural", "noir"]')
    text = text.replace(
        '{ quality = "", up_to_megapixels = 1.0, price = "0.040" }',
        '{ quality = "", up_to_megapixels = 1.0, price = "0.030" }',
    )
    newer = entries.parse(text)
    monkeypatch.setattr(entries, "catalog", lambda: newer)
    for module in ("vendors.catalog.fill", "vendors.catalog.drift", "vendors.management.commands.catalog"):
        monkeypatch.setattr(f"{module}.catalog", lambda: newer)
    return newer


def test_the_list_names_every_entry_with_its_date():
    output = catalog_command()

    assert f"Catalog of {entries.catalog().date}: {len(entries.catalog().entries)} models" in output
    assert "dall-e-3" in output and "fal-ai/flux/schnell" in output and "flux-pro-1.1" in output


def test_a_model_as_the_catalog_made_it_does_not_differ(dall_e_3):
    assert "0 model(s) differ" in catalog_command("--diff")


def test_diff_tells_the_newer_catalogs_values_from_the_operators(dall_e_3, newer_catalog):
    ImageModel.objects.filter(pk=dall_e_3.pk).update(styles="vivid")  # the operator's edit

    output = catalog_command("--diff")

    assert "dalle (openai_images:dall-e-3):" in output
    sizes = "1024x1024, 1792x1024, 1024x1792"
    assert f"allowed_sizes: {sizes} -> catalog {sizes}, 512x512 (newer in the catalog)" in output
    assert "styles: vivid -> catalog vivid, natural, noir (the operator's, kept)" in output
    assert "prices: 4 price row(s) -> catalog 4 price row(s) (newer in the catalog)" in output
    assert (
        ImageModel.objects.get(pk=dall_e_3.pk).allowed_sizes == "1024x1024, 1792x1024, 1024x1792"
    )  # diff writes nothing


def test_apply_takes_the_newer_values_still_from_the_catalog_and_never_the_operators(dall_e_3, newer_catalog):
    ImageModel.objects.filter(pk=dall_e_3.pk).update(styles="vivid")

    output = catalog_command("--apply", "--model", "dalle")

    model = ImageModel.objects.get(pk=dall_e_3.pk)
    assert model.allowed_sizes == "1024x1024, 1792x1024, 1024x1792, 512x512"
    assert model.styles == "vivid"
    assert model.prices.get(quality="", max_megapixels=Decimal("1")).price_per_image == Decimal("0.03")
    assert model.catalog_date == "2027-03-01"
    assert "applied: allowed_sizes, prices." in output and "1 updated" in output
    assert "0 model(s) differ" not in output
    assert "1 model(s) differ" in catalog_command("--diff")  # only the operator's styles are left


def test_apply_leaves_a_price_table_the_operator_edited(dall_e_3, newer_catalog):
    dall_e_3.prices.filter(quality="hd").delete()

    catalog_command("--apply")

    assert ImageModel.objects.get(pk=dall_e_3.pk).prices.count() == 2


def test_model_must_name_an_image_model():
    with pytest.raises(CommandError, match="No image model is named 'nope'"):
        catalog_command("--diff", "--model", "nope")
