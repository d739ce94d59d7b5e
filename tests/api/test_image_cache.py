"""The opt-in image cache: the same request to a model that has it on gets the stored images, no vendor call,
cost 0, and a note; a removed or expired image is never served from it.

A fake SiliconFlow on 127.0.0.1 that records its calls, the gateway's own views, flux-schnell priced at
0.04 USD an image.
"""

import asyncio
import json
from datetime import timedelta
from decimal import Decimal

import pytest
from django.utils import timezone

from imagegen.generation import CACHE_NOTE
from imagegen.models import Generation, VendorAttempt
from proxy.models import StoredImage
from proxy.removal import take_down
from tests.factories import client_key_row, make_key, make_model, make_vendor
from vendors.models import ModelPrice

pytestmark = pytest.mark.django_db(transaction=True)

CLIENT_KEY = "client-key-for-image-cache-0001"


@pytest.fixture(autouse=True)
def _bootstrap_key(settings):
    client_key_row(CLIENT_KEY)


@pytest.fixture
def cached_flux(flux):
    ModelPrice.objects.create(model=flux, price_per_image=Decimal("0.04"))
    flux.image_cache_seconds = 3600
    flux.save()
    return flux


def post(client, path: str, body: dict):
    return client.post(
        path, data=json.dumps(body), content_type="application/json", HTTP_AUTHORIZATION=f"Bearer {CLIENT_KEY}"
    )


def chat(client, content="a red fox in the snow", **extra):
    body = {"model": "flux-schnell", "messages": [{"role": "user", "content": content}], **extra}
    return post(client, "/v1/chat/completions", body)


def images(client, prompt="a red fox in the snow", **extra):
    response = post(client, "/v1/images/generations", {"model": "flux-schnell", "prompt": prompt, **extra})
    assert response.status_code == 200, response.content
    return response


def urls(response) -> list[str]:
    return [item["url"] for item in response.json()["data"]]


def vendor_calls(sf) -> int:
    return len([r for r in sf.requests if r.path == "/v1/images/generations"])


def stored(url: str) -> StoredImage:
    return StoredImage.objects.get(token=url.rsplit("/", 1)[1].split(".")[0])


def last_row() -> Generation:
    return Generation.objects.order_by("pk").last()


def test_the_same_request_gets_the_stored_image_with_no_vendor_call_and_no_cost(client, sf, cached_flux):
    first = images(client)
    second = images(client)

    assert vendor_calls(sf) == 1
    assert urls(second) == urls(first)
    assert second["X-Imagegen-Cache"] == "hit" and "X-Imagegen-Cache" not in first
    assert first["X-Imagegen-Cost"] == "0.040000 USD"
    assert second["X-Imagegen-Cost"] == second.json()["cost"] == "0.000000 USD"
    assert second["x-litellm-response-cost"] == "0.000000"
    assert second.json()["notes"][0] == CACHE_NOTE
    assert second.json()["notes"][1:] == first.json()["notes"]  # the fake's image is 40x30: the size note stays
    row = last_row()
    assert "image: cached (no vendor call)" in row.notes
    assert (row.status, row.image_count, row.vendor_cost, row.served_model) == ("success", 1, 0, "flux-schnell")
    assert not VendorAttempt.objects.filter(generation=row).exists()
    assert list(row.images.all()) == [stored(urls(first)[0])]


def test_a_chat_answer_says_in_its_text_that_the_image_came_from_the_cache(client, sf, cached_flux):
    first = chat(client)
    second = chat(client)

    assert first.status_code == second.status_code == 200
    assert vendor_calls(sf) == 1
    content = second.json()["choices"][0]["message"]["content"]
    assert f"Note: {CACHE_NOTE}" in content
    assert content.split("\n")[0] == first.json()["choices"][0]["message"]["content"].split("\n")[0]  # same image
    assert second.json()["usage"]["cost"] == 0


def test_a_streamed_answer_from_the_cache_says_so_and_costs_nothing(client, sf, cached_flux):
    chat(client)

    events = stream_events(chat(client, stream=True))

    assert vendor_calls(sf) == 1
    steps = "".join(e["choices"][0]["delta"].get("reasoning_content", "") for e in events if e["choices"])
    assert "Found in the image cache: no vendor call." in steps
    content = "".join(e["choices"][0]["delta"].get("content") or "" for e in events if e["choices"])
    assert CACHE_NOTE in content
    [finish] = [e for e in events if e["choices"] and e["choices"][0]["finish_reason"] == "stop"]
    assert (finish["cost"], finish["cache"]) == ("0.000000 USD", "hit")


def stream_events(response) -> list[dict]:
    async def read() -> bytes:
        return b"".join([chunk async for chunk in response.streaming_content])

    lines = asyncio.run(read()).decode().splitlines()
    return [json.loads(line[6:]) for line in lines if line.startswith("data: {")]


def test_the_cache_is_off_unless_the_model_opts_in(client, sf, flux):
    first, second = images(client), images(client)

    assert vendor_calls(sf) == 2
    assert urls(first) != urls(second)
    assert "X-Imagegen-Cache" not in second and CACHE_NOTE not in second.json().get("notes", [])


@pytest.mark.parametrize(
    "change",
    [
        {"size": "512x512"},
        {"prompt": "a red fox in the rain"},
        {"quality": "hd"},
        {"style": "natural"},
        {"n": 2},
    ],
)
def test_a_different_size_prompt_quality_style_or_n_is_a_miss(client, sf, cached_flux, change):
    images(client)

    changed = images(client, **change)

    assert vendor_calls(sf) == 2
    assert "X-Imagegen-Cache" not in changed


def test_n_images_are_cached_together(client, sf, cached_flux):
    first = images(client, n=2)
    second = images(client, n=2)

    assert vendor_calls(sf) == 1 and urls(second) == urls(first) and len(urls(first)) == 2
    assert last_row().image_count == 2 and last_row().vendor_cost == 0


def test_a_taken_down_image_is_never_served_from_the_cache(client, sf, cached_flux):
    first = images(client)
    take_down([stored(urls(first)[0]).pk], by="admin", reason="complaint")
    assert client.get(urls(first)[0]).status_code == 410

    second = images(client)
    third = images(client)

    assert vendor_calls(sf) == 2
    assert urls(second) != urls(first) and "X-Imagegen-Cache" not in second
    assert client.get(urls(second)[0]).status_code == 200
    assert urls(third) == urls(second) and third["X-Imagegen-Cache"] == "hit"  # the new image is cached


def test_one_removed_image_of_n_makes_the_whole_answer_a_miss(client, sf, cached_flux):
    first = images(client, n=2)
    take_down([stored(urls(first)[1]).pk], by="admin")

    second = images(client, n=2)

    assert vendor_calls(sf) == 2 and not set(urls(second)) & set(urls(first))


def test_an_expired_image_is_never_served_from_the_cache(client, sf, cached_flux):
    first = images(client)
    StoredImage.objects.filter(token=stored(urls(first)[0]).token).update(
        expires_at=timezone.now() - timedelta(seconds=1)
    )

    second = images(client)

    assert vendor_calls(sf) == 2 and urls(second) != urls(first)


def test_images_a_fallback_model_made_are_not_cached(client, sf, flux):
    keyless = make_vendor(name="keyless", base_url="http://127.0.0.1:9/v1")
    make_model(keyless, name="flux-pro", fallback=flux, image_cache_seconds=3600)

    for _ in range(2):
        response = post(client, "/v1/images/generations", {"model": "flux-pro", "prompt": "a red fox"})
        assert response.status_code == 200 and response.json()["model"] == "flux-schnell"

    assert vendor_calls(sf) == 2


def test_the_cache_entry_lasts_the_models_seconds(client, sf, cached_flux):
    cached_flux.image_cache_seconds = 1
    cached_flux.save()
    images(client)
    images(client)
    assert vendor_calls(sf) == 1

    asyncio.run(asyncio.sleep(1.2))
    images(client)

    assert vendor_calls(sf) == 2


def test_another_model_of_the_same_vendor_does_not_share_the_cache(client, sf, cached_flux):
    make_model(cached_flux.vendor, name="flux-dev", image_cache_seconds=3600)
    make_key(cached_flux.vendor, "sk-sf-key-bbbb2222", label="k2")
    images(client)

    other = post(client, "/v1/images/generations", {"model": "flux-dev", "prompt": "a red fox in the snow"})

    assert other.status_code == 200 and "X-Imagegen-Cache" not in other
    assert vendor_calls(sf) == 2
