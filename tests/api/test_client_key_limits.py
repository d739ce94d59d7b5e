"""A client key's limits, through the API: allowed models, requests per minute (with OpenAI's
x-ratelimit headers), generations in flight, images per day and expiry. A real fake vendor counts the
calls: a refused request never reaches it."""

import asyncio
import json
import re
import threading
import time
from datetime import timedelta

import pytest
from django.test import Client
from django.utils import timezone

from imagegen.models import ClientKey
from tests.factories import client_key_row, make_model

pytestmark = pytest.mark.django_db(transaction=True)

RAW = "client-key-for-limits-0001"
RESET = re.compile(r"^([1-9]|[1-5][0-9])s$|^1m0s$")


def images(client, key=RAW, **body):
    body = {"model": "flux-schnell", "prompt": "a red fox", **body}
    return client.post(
        "/v1/images/generations", json.dumps(body), content_type="application/json", HTTP_AUTHORIZATION=f"Bearer {key}"
    )


def chat(client, key=RAW, **body):
    body = {"model": "flux-schnell", "messages": [{"role": "user", "content": "a red fox"}], **body}
    return client.post(
        "/v1/chat/completions", json.dumps(body), content_type="application/json", HTTP_AUTHORIZATION=f"Bearer {key}"
    )


def error_of(response, status, code):
    assert response.status_code == status, response.content
    error = response.json()["error"]
    assert set(error) == {"message", "type", "param", "code"} and error["code"] == code
    return error


def read_stream(response) -> bytes:
    async def read():
        return b"".join([chunk async for chunk in response.streaming_content])

    return asyncio.run(read())


def well_inside_a_minute():
    """Waits out the last seconds of a clock minute, so a test's requests share one rate window."""
    left = 60 - time.time() % 60
    if left < 4:
        time.sleep(left + 0.05)


# --- allowed models ---------------------------------------------------------------------------------


def test_a_model_the_key_may_not_use_is_answered_as_one_that_does_not_exist(client, flux, sf):
    make_model(flux.vendor, name="flux-pro")
    client_key_row(RAW, allowed_models="flux-schnell")

    hidden = error_of(images(client, model="flux-pro"), 404, "model_not_found")
    unknown = error_of(images(client, model="flux-nope"), 404, "model_not_found")
    assert hidden["message"].replace("flux-pro", "X") == unknown["message"].replace("flux-nope", "X")
    assert hidden["message"].endswith("Available models: flux-schnell.")
    error_of(chat(client, model="flux-pro"), 404, "model_not_found")
    assert sf.requests == []

    listed = client.get("/v1/models", HTTP_AUTHORIZATION=f"Bearer {RAW}").json()["data"]
    assert [model["id"] for model in listed] == ["flux-schnell"]
    assert images(client).status_code == 200


def test_a_key_without_a_model_list_sees_and_uses_every_model(client, flux):
    make_model(flux.vendor, name="flux-pro")
    client_key_row(RAW)

    listed = client.get("/v1/models", HTTP_AUTHORIZATION=f"Bearer {RAW}").json()["data"]
    assert [model["id"] for model in listed] == ["flux-pro", "flux-schnell"]
    assert images(client, model="flux-pro").status_code == 200


# --- requests per minute ------------------------------------------------------------------------------


def test_over_its_requests_per_minute_a_key_gets_429_with_retry_after_and_openais_headers(client, flux, sf):
    client_key_row(RAW, requests_per_minute=2)
    well_inside_a_minute()

    first, second, third = images(client), chat(client), images(client)

    assert (first.status_code, second.status_code) == (200, 200)
    assert [r["x-ratelimit-limit-requests"] for r in (first, second, third)] == ["2", "2", "2"]
    assert [r["x-ratelimit-remaining-requests"] for r in (first, second, third)] == ["1", "0", "0"]
    assert all(RESET.match(r["x-ratelimit-reset-requests"]) for r in (first, second, third))
    error = error_of(third, 429, "rate_limit_exceeded")
    assert error["type"] == "rate_limit_error"
    assert "2 requests per minute" in error["message"]
    assert 1 <= int(third["Retry-After"]) <= 60
    assert len(sf.keys_used()) == 2


def test_a_streamed_answer_carries_the_rate_headers_and_a_stream_over_the_limit_is_a_plain_429(client, flux, sf):
    client_key_row(RAW, requests_per_minute=1)
    well_inside_a_minute()

    streamed = chat(client, stream=True)
    assert streamed["Content-Type"].startswith("text/event-stream")
    assert b"[DONE]" in read_stream(streamed)
    assert (streamed["x-ratelimit-limit-requests"], streamed["x-ratelimit-remaining-requests"]) == ("1", "0")

    refused = chat(client, stream=True)
    error_of(refused, 429, "rate_limit_exceeded")
    assert len(sf.keys_used()) == 1


def test_keys_count_their_requests_apart_and_an_unlimited_key_gets_no_rate_headers(client, flux):
    client_key_row(RAW, requests_per_minute=1)
    client_key_row("client-key-unlimited-0002", name="other")
    well_inside_a_minute()

    assert images(client).status_code == 200
    assert images(client).status_code == 429
    free = images(client, key="client-key-unlimited-0002")
    assert free.status_code == 200
    assert "x-ratelimit-limit-requests" not in free


# --- generations in flight ----------------------------------------------------------------------------


def test_a_key_at_its_generations_in_flight_is_refused_until_one_ends(flux, sf):
    client_key_row(RAW, max_in_flight=1)
    sf.latency = 1.5
    slow = {}
    first = threading.Thread(target=lambda: slow.update(response=images(Client())))
    first.start()
    deadline = time.monotonic() + 5
    while sf.in_flight == 0 and time.monotonic() < deadline:
        time.sleep(0.02)

    refused = images(Client())
    first.join()

    error = error_of(refused, 429, "rate_limit_exceeded")
    assert "1 generations in flight" in error["message"] and refused["Retry-After"] == "1"
    assert slow["response"].status_code == 200
    assert len(sf.keys_used()) == 1
    sf.latency = 0
    assert images(Client()).status_code == 200  # the slot came back when the first one ended


def test_a_generation_longer_than_the_lease_keeps_its_slot_by_renewing_it(flux, sf, settings):
    settings.CLIENT_KEY_SLOT_LEASE = 1  # renewed every third of a second while the generation runs
    client_key_row(RAW, max_in_flight=1)
    flux.vendor.timeout = 10.0
    flux.vendor.save()
    sf.latency = 3.0
    slow = {}
    first = threading.Thread(target=lambda: slow.update(response=images(Client())))
    first.start()
    deadline = time.monotonic() + 5
    while sf.in_flight == 0 and time.monotonic() < deadline:
        time.sleep(0.02)
    time.sleep(2.2)  # two leases

    refused = images(Client())
    first.join()

    error_of(refused, 429, "rate_limit_exceeded")
    assert slow["response"].status_code == 200


def test_a_generation_that_fails_gives_its_slot_back(client, flux, sf):
    client_key_row(RAW, max_in_flight=1)
    sf.default_behaviour = "server_error"
    assert images(client).status_code == 502
    sf.default_behaviour = "ok"
    assert images(client).status_code == 200
    assert b"[DONE]" in read_stream(chat(client, stream=True))
    assert images(client).status_code == 200  # the stream gave its slot back too


# --- images per day -----------------------------------------------------------------------------------


def test_images_per_day_count_n_and_give_back_what_was_not_delivered(client, flux, sf):
    client_key_row(RAW, images_per_day=3)

    sf.default_behaviour = "server_error"
    assert images(client, n=2).status_code == 502  # nothing delivered: the 2 are given back
    sf.default_behaviour = "ok"
    assert images(client, n=2).status_code == 200
    calls = len(sf.keys_used())

    over = images(client, n=2)
    error = error_of(over, 429, "insufficient_quota")
    assert error["type"] == "insufficient_quota"
    assert "used 2 of its 3 images" in error["message"]
    assert 1 <= int(over["Retry-After"]) <= 86400
    assert len(sf.keys_used()) == calls
    assert chat(client).status_code == 200  # the one image left
    error_of(chat(client), 429, "insufficient_quota")


# --- expiry and last use ------------------------------------------------------------------------------


def test_an_expired_key_is_refused_like_a_disabled_one_and_says_it_expired(client, flux, sf):
    key = client_key_row(RAW, expires_at=timezone.now() - timedelta(seconds=1))

    error = error_of(images(client), 401, "invalid_api_key")
    assert "expired" in error["message"] and RAW not in error["message"]
    assert sf.requests == []

    key.expires_at = timezone.now() + timedelta(hours=1)
    key.save()
    assert images(client).status_code == 200


def test_last_used_is_written_on_use_and_at_most_every_few_seconds(client, flux):
    key = client_key_row(RAW)
    assert key.last_used_at is None

    assert client.get("/v1/models", HTTP_AUTHORIZATION=f"Bearer {RAW}").status_code == 200
    first = ClientKey.objects.get(pk=key.pk).last_used_at
    assert first is not None and timezone.now() - first < timedelta(seconds=5)

    assert images(client).status_code == 200
    assert ClientKey.objects.get(pk=key.pk).last_used_at == first


def test_a_cache_that_fails_while_giving_a_slot_back_does_not_cost_the_client_its_image(client, flux, monkeypatch):
    from django.core.cache import cache
    from redis.exceptions import ConnectionError as RedisDown

    from imagegen import client_limits

    class FailsOnGet:
        def __getattr__(self, name):
            return getattr(cache, name)

        def get(self, *args, **kwargs):
            raise RedisDown("the cache went away")

    client_key_row(RAW, max_in_flight=1)
    monkeypatch.setattr(client_limits, "cache", FailsOnGet())

    answered = images(client)

    assert answered.status_code == 200 and answered.json()["data"][0]["url"]
    error_of(images(client), 429, "rate_limit_exceeded")  # the slot stays taken until its lease runs out


def test_a_replay_passes_the_limits_and_a_refused_request_gives_its_idempotency_key_back(client, flux, sf):
    key = client_key_row(RAW, images_per_day=1)

    def keyed(idempotency_key):
        body = json.dumps({"model": "flux-schnell", "prompt": "a red fox"})
        headers = {"HTTP_AUTHORIZATION": f"Bearer {RAW}", "HTTP_IDEMPOTENCY_KEY": idempotency_key}
        return client.post("/v1/images/generations", body, content_type="application/json", **headers)

    first = keyed("order-1")
    replay = keyed("order-1")  # the day's one image is spent, but a replay generates nothing
    assert (first.status_code, replay.status_code) == (200, 200)
    assert replay.json()["data"] == first.json()["data"]
    error_of(keyed("order-2"), 429, "insufficient_quota")
    assert len(sf.keys_used()) == 1

    key.images_per_day = 2
    key.save()
    assert keyed("order-2").status_code == 200  # the refusal was not stored as the key's answer
    assert len(sf.keys_used()) == 2
