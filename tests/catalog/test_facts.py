"""Facts, with tests: every catalog model's sizes, sent through the gateway to the fake of its kind, are taken.

The fakes refuse what the real vendors refuse (DALL·E 3's three sizes, Kolors' five, Replicate's and
Stability's ratio enums, BFL's multiples of 32 in 256-1440 and its ratio range, Workers AI's 256-2048), so a
catalog entry whose size rules let a size through that its vendor refuses fails here. One test per kind, each
entry of the kind made as admin or import_env would make it (filled from the catalog), asked for each of its
sizes (or ratios, or a few shapes within its limits).
"""

import json

import pytest

from tests.commands.seed_env import run, set_env
from tests.factories import client_key_row
from tests.fakes.profile import profile_of
from tests.fakes.server import png_bytes
from vendors.adapters import image_kinds
from vendors.adapters.polling import PollingAdapter
from vendors.catalog.entries import CatalogEntry, catalog
from vendors.catalog.fill import fill_fields
from vendors.models import ImageModel, Vendor, VendorKey

CLIENT_KEY = "client-key-for-catalog-facts-1"
SHAPES = ("1024x1024", "1920x1080", "768x1344", "3000x1000")  # for models with limits only
BASE_PATHS = {"stability": "/v2beta"}  # one vendor row for all three services, chosen by the model name


@pytest.fixture(autouse=True)
def _client_key(transactional_db, monkeypatch):
    client_key_row(CLIENT_KEY)
    monkeypatch.setattr(PollingAdapter, "poll_first", 0.005)  # the polling kinds' fakes answer at once


def wanted_sizes(entry: CatalogEntry, seen: set[frozenset]) -> list[str]:
    """The sizes to ask for: each allowed size, a size of each allowed ratio, else a few shapes. A list an
    earlier entry of the kind had (``seen``) is asked only for its widest and tallest items, to stay quick."""
    values = entry.values
    if values.get("allowed_sizes"):
        sizes = [size.strip() for size in values["allowed_sizes"].split(",")]
    elif values.get("allowed_ratios"):
        ratios = [ratio.strip().split(":") for ratio in values["allowed_ratios"].split(",")]
        sizes = [f"{int(width) * 64}x{int(height) * 64}" for width, height in ratios]
    else:
        return list(SHAPES)
    if frozenset(sizes) in seen:
        shape = [int(width) / int(height) for width, height in (size.split("x") for size in sizes)]
        return [sizes[shape.index(max(shape))], sizes[shape.index(min(shape))]]
    seen.add(frozenset(sizes))
    return sizes


def generate(client, model: str, size: str):
    return client.post(
        "/v1/images/generations",
        data=json.dumps({"model": model, "prompt": "a harbour at dawn", "size": size}),
        content_type="application/json",
        HTTP_AUTHORIZATION=f"Bearer {CLIENT_KEY}",
    )


def add_model(vendor: Vendor, entry: CatalogEntry, index: int) -> ImageModel:
    model = ImageModel(vendor=vendor, name=f"m{index}", upstream_name=entry.upstream)
    assert fill_fields(model), entry.key
    model.save()
    return model


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("kind", image_kinds())
def test_every_size_a_catalog_model_allows_is_taken_by_its_vendors_fake(client, kind):
    profile = profile_of(kind)
    with profile.fake() as fake:
        fake.image = png_bytes(16, 16)
        for polls in ("polls_to_finish", "pending_polls"):  # the polling kinds answer at the first poll
            if hasattr(fake, polls):
                setattr(fake, polls, 0)
        vendor = Vendor.objects.create(name=kind, kind=kind, base_url=fake.url + BASE_PATHS.get(kind, profile.path))
        key = VendorKey(vendor=vendor)
        key.secret = profile.secret(fake, "catalog-facts-token-0001")
        key.save()
        refused, seen = [], set()
        for index, entry in enumerate(entry for entry in catalog().entries if entry.kind == kind):
            if entry.upstream in getattr(fake, "edit_only_models", ()):
                continue  # it refuses a request without an input image, and its size is the input's
            model = add_model(vendor, entry, index)
            fake.flavour = "together" if entry.upstream.startswith("black-forest-labs/") else "openai"
            for size in wanted_sizes(entry, seen):
                response = generate(client, model.name, size)
                if response.status_code != 200:
                    refused.append((entry.upstream, size, response.status_code, response.content[:200]))
        assert not refused


@pytest.mark.django_db(transaction=True)
def test_dall_e_3_without_the_catalog_is_refused_a_wide_size_and_with_it_gets_one(client):
    profile = profile_of("openai_images")
    with profile.fake() as fake:
        fake.image = png_bytes(16, 9)
        vendor = Vendor.objects.create(name="openai", kind="openai_images", base_url=fake.url + "/v1")
        key = VendorKey(vendor=vendor)
        key.secret = "sk-openai-catalog-0001"
        key.save()
        ImageModel.objects.create(vendor=vendor, name="bare", upstream_name="dall-e-3")
        add_model(vendor, catalog().find("openai_images", "dall-e-3"), 0)

        bare, known = generate(client, "bare", "1024x576"), generate(client, "m0", "1024x576")

        assert bare.status_code == 400 and "1024x576" in bare.json()["error"]["message"]
        assert known.status_code == 200, known.content
        sent = [request.json["size"] for request in fake.requests if request.path == "/v1/images/generations"]
        assert sent == ["1024x576", "1792x1024"]


@pytest.mark.django_db(transaction=True)
def test_dall_e_3_imported_from_the_seed_makes_16_9_at_1792x1024_and_knows_its_price(client, clean_env):
    profile = profile_of("openai_images")
    with profile.fake() as fake:
        fake.image = png_bytes(16, 9)
        set_env(
            clean_env,
            IMAGE_GEN_API_BASE_1=fake.url + "/v1",
            IMAGE_GEN_KIND_1="openai_images",
            IMAGE_GEN_MODEL_1="dall-e-3",
            IMAGE_GEN_API_KEY_1="sk-openai-seeded-0001",
        )
        run()

        response = client.post(
            "/v1/images/generations",
            data=json.dumps({"model": "dall-e-3", "prompt": "a harbour at dawn 16:9", "quality": "hd"}),
            content_type="application/json",
            HTTP_AUTHORIZATION=f"Bearer {CLIENT_KEY}",
        )

        assert response.status_code == 200, response.content
        [sent] = [request.json for request in fake.requests if request.path == "/v1/images/generations"]
        assert (sent["size"], sent["quality"]) == ("1792x1024", "hd")
        assert response["X-Imagegen-Cost"].startswith("0.12")
