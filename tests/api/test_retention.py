"""An image's expiry is set when it is stored, from the retention of the model that made it."""

from __future__ import annotations

import json
from datetime import timedelta

import pytest
from django.utils import timezone

from proxy.models import StoredImage
from tests.factories import client_key_row, make_model, make_vendor

pytestmark = pytest.mark.django_db(transaction=True)

CLIENT_KEY = "client-key-for-retention-0001"


@pytest.fixture(autouse=True)
def _bootstrap_key(settings):
    client_key_row(CLIENT_KEY)


def generate(client, model="flux-schnell") -> StoredImage:
    response = client.post(
        "/v1/images/generations",
        data=json.dumps({"model": model, "prompt": "a red fox"}),
        content_type="application/json",
        HTTP_AUTHORIZATION=f"Bearer {CLIENT_KEY}",
    )
    assert response.status_code == 200, response.content
    token = response.json()["data"][0]["url"].rsplit("/", 1)[1].split(".")[0]
    return StoredImage.objects.get(token=token)


def days_kept(image: StoredImage) -> float | None:
    return None if image.expires_at is None else (image.expires_at - image.created_at) / timedelta(days=1)


def test_images_are_kept_forever_by_default(client, flux):
    image = generate(client)

    assert image.expires_at is None and image.model == "flux-schnell"


def test_the_models_retention_sets_the_expiry_when_the_image_is_stored(client, flux):
    flux.retention_days = 7
    flux.save()

    image = generate(client)

    assert days_kept(image) == pytest.approx(7, abs=0.001)
    assert timezone.now() < image.expires_at


def test_the_gateway_default_applies_to_models_without_their_own_and_zero_is_forever(client, flux, settings):
    settings.IMAGE_RETENTION_DAYS = 30
    assert days_kept(generate(client)) == pytest.approx(30, abs=0.001)

    flux.retention_days = 0
    flux.save()
    assert days_kept(generate(client)) is None


def test_a_change_of_retention_applies_to_images_stored_after_it(client, flux):
    flux.retention_days = 90
    flux.save()
    before = generate(client)

    flux.retention_days = 1
    flux.save()
    after = generate(client)

    assert days_kept(StoredImage.objects.get(pk=before.pk)) == pytest.approx(90, abs=0.001)
    assert days_kept(after) == pytest.approx(1, abs=0.001)


def test_an_image_made_by_a_fallback_model_follows_the_fallbacks_retention(client, flux):
    keyless = make_vendor(name="keyless", base_url="http://127.0.0.1:9/v1")
    make_model(keyless, name="flux-pro", fallback=flux, retention_days=365)
    flux.retention_days = 3
    flux.save()

    image = generate(client, model="flux-pro")

    assert image.model == "flux-schnell"
    assert days_kept(image) == pytest.approx(3, abs=0.001)
