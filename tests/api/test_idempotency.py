"""Idempotency-Key: the same request sent again gets the stored answer, and no vendor is paid twice.

The gateway's own views with a SiliconFlow fake on 127.0.0.1 (tests/api/conftest.py) and a priced
model; two workers racing on one key are tests/e2e/test_idempotency_workers.py.
"""

from __future__ import annotations

import asyncio
import json
import re
from datetime import timedelta
from decimal import Decimal

import pytest
from django.core.cache import cache
from django.utils import timezone

from imagegen.api.replays import STORED_ERROR_NOTE
from imagegen.models import ClientKey, Generation, IdempotencyRecord, hash_client_key
from imagegen.recovery import current_worker
from proxy.models import StoredImage
from proxy.removal import take_down
from tests.factories import client_key_row, make_client_key
from vendors.models import ModelPrice

pytestmark = pytest.mark.django_db(transaction=True)

CLIENT_KEY = "client-key-for-idempotency-0001"
IMAGE_LINK = re.compile(r"!\[image\]\((?P<url>[^)]+)\)")


@pytest.fixture(autouse=True)
def _client_key():
    return client_key_row(CLIENT_KEY)


@pytest.fixture
def priced(flux):
    ModelPrice.objects.create(model=flux, price_per_image=Decimal("0.04"))
    return flux


def post(client, path: str, body: dict, key: str | None = "order-42", token: str = CLIENT_KEY):
    headers = {"HTTP_AUTHORIZATION": f"Bearer {token}"}
    if key is not None:
        headers["HTTP_IDEMPOTENCY_KEY"] = key
    return client.post(path, data=json.dumps(body), content_type="application/json", **headers)


def images(client, prompt="a red fox", key="order-42", **extra):
    return post(client, "/v1/images/generations", {"model": "flux-schnell", "prompt": prompt, **extra}, key)


def chat(client, content="a red fox", key="order-42", **extra):
    body = {"model": "flux-schnell", "messages": [{"role": "user", "content": content}], **extra}
    return post(client, "/v1/chat/completions", body, key)


def vendor_calls(sf) -> int:
    return len([request for request in sf.requests if request.path == "/v1/images/generations"])


def urls(response) -> list[str]:
    return [item["url"] for item in response.json()["data"]]


def sse(response) -> list[str]:
    async def read() -> bytes:
        return b"".join([chunk async for chunk in response.streaming_content])

    return [event for event in asyncio.run(read()).decode().split("\n\n") if event]


def test_the_same_key_and_body_replay_the_stored_answer_with_no_vendor_call_and_no_cost(client, priced, sf):
    first = images(client, n=2)
    second = images(client, n=2)

    assert first.status_code == second.status_code == 200, second.content
    assert vendor_calls(sf) == 1
    assert urls(second) == urls(first) and len(urls(first)) == 2
    assert first["X-Imagegen-Cost"] == "0.080000 USD" and "Idempotent-Replayed" not in first
    assert second["Idempotent-Replayed"] == "true"
    assert (second["X-Imagegen-Cost"], second["x-litellm-response-cost"]) == ("0.000000 USD", "0.000000")
    replayed, original = second.json(), first.json()
    assert replayed["cost"] == "0.000000 USD" and replayed["usage"]["total_tokens"] == 0
    assert {k: v for k, v in replayed.items() if k not in ("cost", "usage")} == {
        k: v for k, v in original.items() if k not in ("cost", "usage")
    }
    row = Generation.objects.get()  # the ledger has the one paid generation, with its cost
    assert (row.image_count, row.vendor_cost) == (2, Decimal("0.08"))


def test_the_same_key_with_another_body_is_a_409_and_nothing_is_generated(client, flux, sf):
    assert images(client, prompt="a red fox").status_code == 200

    for response in (images(client, prompt="a grey wolf"), chat(client, "a red fox")):
        assert response.status_code == 409, response.content
        assert response.json() == {
            "error": {
                "message": "This Idempotency-Key was already used with a different request (another body or "
                "endpoint). Use a new key for a new request.",
                "type": "api_error",
                "param": "Idempotency-Key",
                "code": "idempotency_key_reused",
            }
        }
    assert vendor_calls(sf) == 1


def test_keys_belong_to_their_client_two_clients_with_one_key_each_generate(client, flux, sf):
    _, other = make_client_key("other app")
    body = {"model": "flux-schnell", "prompt": "a red fox"}

    mine = post(client, "/v1/images/generations", body)
    theirs = post(client, "/v1/images/generations", body, token=other)

    assert mine.status_code == theirs.status_code == 200
    assert "Idempotent-Replayed" not in theirs and urls(mine) != urls(theirs)
    assert vendor_calls(sf) == 2


def test_without_a_key_every_request_generates(client, flux, sf):
    images(client, key=None)
    images(client, key=None)
    assert vendor_calls(sf) == 2
    assert IdempotencyRecord.objects.count() == 0


def test_a_chat_completion_is_replayed_with_its_id_and_text(client, priced, sf):
    first, second = chat(client), chat(client)

    assert vendor_calls(sf) == 1
    assert second["Idempotent-Replayed"] == "true" and second["X-Imagegen-Cost"] == "0.000000 USD"
    original, replayed = first.json(), second.json()
    assert replayed["id"] == original["id"] and replayed["created"] == original["created"]
    assert replayed["choices"] == original["choices"]
    assert replayed["usage"] == {"prompt_tokens": 0, "completion_tokens": 0, "total_tokens": 0, "cost": 0.0}


def test_a_streamed_request_is_streamed_again_with_the_same_content(client, priced, sf):
    first = sse(chat(client, stream=True, stream_options={"include_usage": True}))
    second_response = chat(client, stream=True, stream_options={"include_usage": True})
    second = sse(second_response)

    assert vendor_calls(sf) == 1
    assert second_response["Idempotent-Replayed"] == "true"
    assert second_response["Content-Type"].startswith("text/event-stream")
    chunks = [json.loads(event[6:]) for event in second if event.startswith("data: {")]
    assert chunks[0]["choices"][0]["delta"] == {"role": "assistant", "content": ""}
    content = [c["choices"][0]["delta"]["content"] for c in chunks if c["choices"] and c["choices"][0]["delta"]]
    first_chunks = [json.loads(event[6:]) for event in first if event.startswith("data: {")]
    first_content = [c["choices"][0]["delta"].get("content") for c in first_chunks if c["choices"]]
    assert content[-1] == [text for text in first_content if text][-1]
    assert IMAGE_LINK.search(content[-1])
    assert chunks[-2]["cost"] == "0.000000 USD" and chunks[-2]["choices"][0]["finish_reason"] == "stop"
    assert chunks[-1]["usage"]["total_tokens"] == 0
    assert {chunk["id"] for chunk in chunks} == {first_chunks[0]["id"]}
    assert second[-1] == "data: [DONE]"


@pytest.mark.parametrize(
    ("key", "problem"),
    [
        ("", "it is empty."),
        ("k" * 256, "it is 256 characters long; the limit is 255."),
        ("two words", "use printable ASCII characters without spaces (a UUID, for example)."),
        ("clé-1", "use printable ASCII characters without spaces (a UUID, for example)."),
    ],
)
def test_a_malformed_key_is_a_400_before_any_vendor_call(client, flux, sf, key, problem):
    response = images(client, key=key)

    assert response.status_code == 400, response.content
    assert response.json()["error"] == {
        "message": f"Invalid Idempotency-Key header: {problem}",
        "type": "invalid_request_error",
        "param": "Idempotency-Key",
        "code": "invalid_idempotency_key",
    }
    assert vendor_calls(sf) == 0


def test_a_key_of_255_characters_is_taken(client, flux, sf):
    key = "a1-_.:~" * 36 + "abc"
    assert len(key) == 255
    assert images(client, key=key).status_code == 200
    assert images(client, key=key)["Idempotent-Replayed"] == "true"
    assert vendor_calls(sf) == 1


def test_a_request_the_vendor_refused_gives_the_key_back_and_a_retry_generates(client, flux, sf):
    sf.default_behaviour = "overloaded"
    refused = images(client)
    sf.default_behaviour = "ok"
    retried = images(client)

    assert refused.json()["error"]["code"] == "upstream_error" and retried.status_code == 200, retried.content
    assert "Idempotent-Replayed" not in retried
    assert vendor_calls(sf) == 2
    assert images(client)["Idempotent-Replayed"] == "true"


def test_a_request_that_failed_after_the_vendor_made_the_image_replays_its_error_and_pays_no_more(client, flux, sf):
    sf.url_ttl = -1.0  # the vendor makes the image, its file cannot be downloaded
    failed = images(client)
    sf.url_ttl = None
    retried = images(client)

    assert failed.status_code == retried.status_code == 502
    original, replayed = failed.json()["error"], retried.json()["error"]
    assert original["code"] == replayed["code"] == "image_fetch_failed"
    assert replayed["message"] == original["message"] + STORED_ERROR_NOTE
    assert retried["Idempotent-Replayed"] == "true"
    assert vendor_calls(sf) == 1
    assert images(client, key="order-43").status_code == 200  # a new key generates again


def test_a_stream_that_failed_after_the_vendor_made_the_image_streams_its_error_again(client, flux, sf):
    sf.url_ttl = -1.0
    failed = sse(chat(client, stream=True))
    sf.url_ttl = None
    retried_response = chat(client, stream=True)
    retried = sse(retried_response)

    error = json.loads(failed[-2][6:])
    assert error["error"]["code"] == "image_fetch_failed"
    assert retried_response["Idempotent-Replayed"] == "true"
    replayed = json.loads(retried[0][6:])
    assert replayed["error"] == {**error["error"], "message": error["error"]["message"] + STORED_ERROR_NOTE}
    assert retried[1:] == ["data: [DONE]"]
    assert vendor_calls(sf) == 1


def test_a_duplicate_of_a_request_in_flight_waits_its_bound_then_is_told_to_retry(client, flux, sf, settings):
    settings.IDEMPOTENCY_WAIT_SECONDS = 0.3
    body = {"model": "flux-schnell", "prompt": "a red fox"}
    in_flight(body, worker=current_worker())

    response = images(client)

    assert response.status_code == 409, response.content
    assert response.json()["error"]["code"] == "idempotency_request_in_progress"
    assert response["Retry-After"] == "5"
    assert vendor_calls(sf) == 0


def test_a_request_whose_worker_died_is_answered_as_lost_not_paid_again(client, flux, sf):
    body = {"model": "flux-schnell", "prompt": "a red fox"}
    in_flight(body, worker=current_worker().rsplit("/", 1)[0] + "/999999999:1")

    response = images(client)

    assert response.status_code == 502, response.content
    assert response.json()["error"]["code"] == "worker_lost"
    assert response.json()["error"]["message"].endswith("Use a new key to generate again.)")
    assert vendor_calls(sf) == 0


def test_after_the_ttl_the_key_generates_again_and_expired_records_are_purged(client, flux, sf):
    images(client)
    images(client, key="order-43")
    IdempotencyRecord.objects.update(expires_at=timezone.now() - timedelta(seconds=1))
    cache.clear()  # the last purge was a minute ago, as far as any worker knows

    again = images(client)

    assert again.status_code == 200 and "Idempotent-Replayed" not in again
    assert vendor_calls(sf) == 3
    assert list(IdempotencyRecord.objects.values_list("key", flat=True)) == ["order-42"]


def test_a_replay_after_a_takedown_answers_as_stored_and_the_url_says_410(client, flux, sf):
    first = images(client)
    take_down(list(StoredImage.objects.values_list("pk", flat=True)), by="admin")

    replayed = images(client)

    assert urls(replayed) == urls(first)
    assert client.get(urls(first)[0].removeprefix("http://testserver")).status_code == 410


def test_a_base64_answer_is_replayed_from_storage_and_is_410_once_taken_down(client, flux, sf):
    first = images(client, response_format="b64_json")
    second = images(client, response_format="b64_json")
    assert second.json()["data"] == first.json()["data"] and first.json()["data"][0]["b64_json"]

    take_down(list(StoredImage.objects.values_list("pk", flat=True)), by="admin")
    gone = images(client, response_format="b64_json")

    assert gone.status_code == 410 and gone.json()["error"]["code"] == "image_removed"
    assert vendor_calls(sf) == 1


def in_flight(body: dict, worker: str) -> IdempotencyRecord:
    from imagegen.idempotency import request_hash

    return IdempotencyRecord.objects.create(
        scope=f"key:{ClientKey.objects.get(hashed_key=hash_client_key(CLIENT_KEY)).pk}",
        key="order-42",
        request_hash=request_hash("images", body),
        endpoint="images",
        worker=worker,
        expires_at=timezone.now() + timedelta(hours=1),
    )


def test_the_published_contract_describes_the_key_the_replay_and_the_409(client):
    document = client.get("/v1/openapi.json").json()

    for path in ("/v1/chat/completions", "/v1/images/generations"):
        operation = document["paths"][path]["post"]
        key = next(parameter for parameter in operation["parameters"] if parameter["name"] == "Idempotency-Key")
        assert (key["in"], key.get("required", False)) == ("header", False)
        assert key["schema"]["pattern"] == "^[!-~]{1,255}$"
        assert "idempotency_key_reused" in operation["responses"]["409"]["description"]
        assert "Idempotent-Replayed" in operation["responses"]["200"]["headers"]
    assert "410" in document["paths"]["/v1/images/generations"]["post"]["responses"]
