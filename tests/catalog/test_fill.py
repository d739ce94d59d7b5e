"""A model made by import_env or in admin starts with its catalog entry's sizes, capabilities and prices."""

from decimal import Decimal

import pytest

from tests.commands.seed_env import run, set_env
from vendors.catalog.entries import catalog
from vendors.models import ImageModel, ModelPrice, Vendor
from vendors.pricing import PriceRow, price_per_image

pytestmark = [pytest.mark.django_db]

SEED = {
    "IMAGE_GEN_API_BASE_1": "https://api.openai.com/v1",
    "IMAGE_GEN_KIND_1": "openai_images",
    "IMAGE_GEN_MODEL_1": "dall-e-3,gpt-image-1,mine=my-own-model",
    "IMAGE_GEN_API_KEY_1": "sk-openai-key-0001",
    "FLUX_GEN_API_BASE": "https://api.siliconflow.cn/v1",
    "FLUX_GEN_MODEL": "flux=black-forest-labs/FLUX.1-schnell",
    "FLUX_GEN_API_KEY": "sk-flux-key-0002",
}


def price(model: ImageModel, width: int, height: int, quality: str | None = None) -> Decimal | None:
    rows = [PriceRow(row.max_megapixels, row.quality, row.price_per_image) for row in model.prices.all()]
    return price_per_image(rows, width, height, quality)


def test_importing_known_models_gives_their_sizes_and_prices_with_nothing_typed(clean_env):
    set_env(clean_env, **SEED)

    output = run()

    dall_e_3 = ImageModel.objects.get(name="dall-e-3")
    assert dall_e_3.allowed_sizes == "1024x1024, 1792x1024, 1024x1792"
    assert (dall_e_3.max_images, dall_e_3.qualities, dall_e_3.styles) == (1, "standard, hd", "vivid, natural")
    assert price(dall_e_3, 1024, 1024) == Decimal("0.04")
    assert price(dall_e_3, 1792, 1024, "hd") == Decimal("0.12")
    gpt = ImageModel.objects.get(name="gpt-image-1")
    assert gpt.allowed_sizes == "1024x1024, 1536x1024, 1024x1536" and gpt.takes_mask
    assert price(gpt, 1536, 1024, "low") == Decimal("0.016")
    flux = ImageModel.objects.get(name="flux")
    assert (flux.size_multiple, flux.min_side, flux.max_side, flux.max_images) == (32, 256, 1440, 1)
    assert flux.catalog_entry == "siliconflow:black-forest-labs/FLUX.1-schnell"
    assert flux.catalog_date == catalog().date
    mine = ImageModel.objects.get(name="mine")
    assert (mine.allowed_sizes, mine.catalog_entry, mine.prices.count()) == ("", "", 0)
    assert f"dall-e-3: from the catalog of {catalog().date} (openai_images:dall-e-3)" in output
    assert "4 price row(s)" in output


def test_a_second_import_leaves_a_model_the_operator_edited_alone(clean_env):
    set_env(clean_env, **SEED)
    run()
    ImageModel.objects.filter(name="dall-e-3").update(allowed_sizes="1024x1024")
    ModelPrice.objects.filter(model__name="dall-e-3").delete()

    run()

    dall_e_3 = ImageModel.objects.get(name="dall-e-3")
    assert (dall_e_3.allowed_sizes, dall_e_3.prices.count()) == ("1024x1024", 0)


def test_prices_in_another_currency_are_not_copied(clean_env, settings):
    settings.PRICE_CURRENCY = "EUR"
    set_env(clean_env, **SEED)

    run()

    dall_e_3 = ImageModel.objects.get(name="dall-e-3")
    assert dall_e_3.allowed_sizes and dall_e_3.prices.count() == 0


@pytest.fixture
def openai_vendor():
    return Vendor.objects.create(name="openai", kind="openai_images", base_url="https://api.openai.com/v1")


def test_a_model_added_in_admin_is_filled_and_shows_what_came_from_the_catalog(admin_client, openai_vendor):
    form = {
        "vendor": openai_vendor.pk,
        "name": "dalle",
        "upstream_name": "dall-e-3",
        "enabled": "on",
        "style_choices": "",
        "image_cache_seconds": "0",
        "prices-TOTAL_FORMS": "0",
        "prices-INITIAL_FORMS": "0",
        "default_size": "1792x1024",  # the operator's own value
    }

    response = admin_client.post("/admin/vendors/imagemodel/add/", form, follow=True)

    model = ImageModel.objects.get(name="dalle")
    assert model.default_size == "1792x1024"
    assert model.allowed_sizes == "1024x1024, 1792x1024, 1024x1792"
    assert model.prices.count() == 4
    assert "dalle: from the catalog of" in response.content.decode().lower()
    page = admin_client.get(f"/admin/vendors/imagemodel/{model.pk}/change/").content.decode()
    assert "openai_images:dall-e-3" in page and "from the catalog: 1024x1024, 1792x1024, 1024x1792" in page


def test_the_operators_sizes_win_over_the_catalogs_as_a_set(admin_client, openai_vendor):
    form = {
        "vendor": openai_vendor.pk,
        "name": "dalle",
        "upstream_name": "dall-e-3",
        "enabled": "on",
        "image_cache_seconds": "0",
        "allowed_sizes": "1024x1024",
        "default_size": "1024x1024",
        "max_images": "1",
        "prices-TOTAL_FORMS": "1",
        "prices-INITIAL_FORMS": "0",
        "prices-0-price_per_image": "0.5",
    }

    admin_client.post("/admin/vendors/imagemodel/add/", form)

    model = ImageModel.objects.get(name="dalle")
    assert model.allowed_sizes == "1024x1024"
    assert [row.price_per_image for row in model.prices.all()] == [Decimal("0.5")]  # their price table, not ours
    assert model.qualities == "standard, hd"  # empty fields are still filled
    assert "allowed_sizes" not in model.catalog_values and "max_images" not in model.catalog_values


def test_a_model_added_on_the_vendor_page_is_filled_too(admin_client):
    form = {
        "name": "bfl",
        "kind": "bfl",
        "base_url": "https://api.bfl.ai",
        "enabled": "on",
        "timeout": "120",
        "failures_to_disable": "5",
        "failure_window": "20",
        "models-TOTAL_FORMS": "1",
        "models-INITIAL_FORMS": "0",
        "models-0-name": "pro",
        "models-0-upstream_name": "flux-pro-1.1",
        "models-0-enabled": "on",
        "keys-TOTAL_FORMS": "0",
        "keys-INITIAL_FORMS": "0",
    }

    response = admin_client.post("/admin/vendors/vendor/add/", form)

    assert response.status_code == 302, response.content.decode()[:3000]
    model = ImageModel.objects.get(name="pro")
    assert (model.size_multiple, model.max_side, model.prices.count()) == (32, 1440, 1)
