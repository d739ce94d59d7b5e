"""GET /v1/models: beside OpenAI's fields, each model's capabilities, so clients build pickers without guessing."""

import pytest
from asgiref.sync import async_to_sync

from tests.factories import client_key_row, make_key, make_model, make_vendor
from vendors.catalog.fill import create_prices, fill_fields
from vendors.models import ImageModel
from vendors.selectors import routing_table

CLIENT_KEY = "client-key-for-the-catalog-01"


@pytest.fixture(autouse=True)
def _client_key(transactional_db):
    client_key_row(CLIENT_KEY)


def catalogued(vendor, name: str, upstream: str) -> ImageModel:
    model = ImageModel(vendor=vendor, name=name, upstream_name=upstream)
    fill_fields(model)
    model.save()
    return model


@pytest.mark.django_db(transaction=True)
def test_each_model_lists_its_sizes_or_ratios_images_per_call_and_input_images(client):
    openai = make_vendor(name="openai", kind="openai_images", base_url="https://api.openai.com/v1")
    make_key(openai, "sk-openai-key-0001")
    catalogued(openai, "dall-e-3", "dall-e-3")
    catalogued(openai, "gpt-image-1", "gpt-image-1")
    make_model(openai, name="relay-model")  # no catalog entry: nothing known beyond its kind
    sf = make_vendor(name="sf", kind="siliconflow", base_url="https://api.siliconflow.cn/v1")
    make_key(sf, "sk-sf-key-0002")
    catalogued(sf, "flux", "black-forest-labs/FLUX.1-schnell")
    replicate = make_vendor(name="replicate", kind="replicate", base_url="https://api.replicate.com/v1")
    make_key(replicate, "r8_replicate-key-0003")
    catalogued(replicate, "flux-dev", "black-forest-labs/flux-dev")

    response = client.get("/v1/models", HTTP_AUTHORIZATION=f"Bearer {CLIENT_KEY}")

    assert response.status_code == 200
    models = {entry["id"]: entry for entry in response.json()["data"]}
    assert set(models["dall-e-3"]) == {"id", "object", "created", "owned_by", "capabilities"}
    assert models["dall-e-3"]["capabilities"] == {
        "sizes": ["1024x1024", "1792x1024", "1024x1792"],
        "ratios": [],
        "size_limits": None,
        "default_size": "1024x1024",
        "images_per_call": 1,
        "input_images": 0,
        "mask": False,
        "qualities": ["standard", "hd"],
        "styles": ["vivid", "natural"],
    }
    gpt = models["gpt-image-1"]["capabilities"]
    assert (gpt["images_per_call"], gpt["input_images"], gpt["mask"]) == (10, 16, True)
    flux = models["flux"]["capabilities"]
    assert flux["sizes"] == [] and flux["images_per_call"] == 1
    assert flux["size_limits"] == {"multiple_of": 32, "min_side": 256, "max_side": 1440, "max_megapixels": None}
    assert models["flux-dev"]["capabilities"]["ratios"][:3] == ["1:1", "16:9", "21:9"]
    assert models["flux-dev"]["capabilities"]["images_per_call"] == 4
    relay = models["relay-model"]["capabilities"]
    assert (relay["sizes"], relay["size_limits"], relay["input_images"], relay["images_per_call"]) == (
        [],
        None,
        None,
        10,
    )


@pytest.mark.django_db(transaction=True)
def test_the_catalogs_prices_reach_the_routing_table_held_in_memory():
    vendor = make_vendor(name="openai", kind="openai_images", base_url="https://api.openai.com/v1")
    model = catalogued(vendor, "dall-e-3", "dall-e-3")
    assert async_to_sync(routing_table)().models["dall-e-3"].prices == ()  # held without prices

    create_prices(model)

    assert len(async_to_sync(routing_table)().models["dall-e-3"].prices) == 4
