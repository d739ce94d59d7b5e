"""An S3 bucket that is down, missing or lost an object: clean OpenAI-shaped errors, the ledger says so,
readiness reports it, and the secret access key shows up nowhere."""

from __future__ import annotations

import json
import logging

import pytest

from imagegen.models import Generation
from proxy.models import StoredImage
from tests.fakes.server import png_bytes
from tests.gateway_process import free_port
from tests.storage.conftest import CLIENT_KEY, point_storage_at

pytestmark = pytest.mark.django_db(transaction=True)

AUTH = {"HTTP_AUTHORIZATION": f"Bearer {CLIENT_KEY}"}


def generate(client):
    body = {"model": "flux-schnell", "prompt": "a red fox"}
    return client.post("/v1/images/generations", data=json.dumps(body), content_type="application/json", **AUTH)


def nothing_listens(s3_server, bucket: str) -> dict[str, str]:
    """The test server's environment, but its endpoint a port where nothing answers."""
    return s3_server.gateway_env(bucket, AWS_S3_ENDPOINT_URL=f"http://127.0.0.1:{free_port()}")


def ready(client, settings) -> dict:
    settings.DEPENDENCY_CHECK_TIMEOUT = 15.0  # a first S3 check makes its client; this machine is shared
    return client.get("/health/ready").json()


@pytest.fixture
def logs(caplog):
    caplog.set_level(logging.INFO)
    return caplog


def test_an_s3_that_is_down_when_storing_gives_a_503_and_a_failed_ledger_row_without_the_secret(
    client, flux, s3_server, s3_bucket, settings, monkeypatch, logs
):
    point_storage_at(settings, monkeypatch, nothing_listens(s3_server, s3_bucket))

    response = generate(client)

    assert response.status_code == 503
    error = response.json()["error"]
    assert (error["code"], error["type"]) == ("image_storage_unavailable", "server_error")
    assert "could not be stored" in error["message"]
    generation = Generation.objects.get()
    assert (generation.status, generation.error_code) == (Generation.Status.FAILED, "image_storage_unavailable")
    assert StoredImage.objects.count() == 0
    for text in (response.content.decode(), logs.text, generation.error_message):
        assert s3_server.secret_key not in text
        assert "X-Amz-Signature" not in text
    assert "could not write image" in logs.text


def vendor_calls(fake) -> int:
    return sum(1 for request in fake.requests if request.method == "POST")


def test_after_a_failed_write_requests_ask_the_bucket_before_paying_a_vendor_until_it_answers(
    client, flux, s3_server, s3_bucket, settings, monkeypatch
):
    point_storage_at(settings, monkeypatch, nothing_listens(s3_server, s3_bucket))
    assert generate(client).status_code == 503
    paid = vendor_calls(flux)

    refused = generate(client)

    assert refused.status_code == 503
    assert refused.json()["error"]["code"] == "service_unavailable"
    assert "image storage" in refused.json()["error"]["message"]
    assert vendor_calls(flux) == paid  # refused before any vendor call

    point_storage_at(settings, monkeypatch, s3_server.gateway_env(s3_bucket))
    settings.DEPENDENCY_CHECK_TIMEOUT = 15.0  # the check makes a new S3 client; this machine is shared
    assert generate(client).status_code == 200
    assert vendor_calls(flux) == paid + 1


def test_an_s3_that_is_down_when_serving_gives_a_503_with_retry_after(
    client, flux, s3_server, s3_storage, settings, monkeypatch, logs
):
    image_path = "/images/" + json.loads(generate(client).content)["data"][0]["url"].rsplit("/images/", 1)[1]
    point_storage_at(settings, monkeypatch, nothing_listens(s3_server, s3_storage))

    response = client.get(image_path)

    assert response.status_code == 503
    assert response.json()["error"]["code"] == "image_storage_unavailable"
    assert response["Retry-After"]
    assert s3_server.secret_key not in response.content.decode() + logs.text
    assert "X-Amz-Signature" not in logs.text


def test_an_object_deleted_from_the_bucket_behind_the_gateways_back_is_a_404(client, flux, s3_server, s3_storage):
    assert generate(client).status_code == 200
    image = StoredImage.objects.get()
    s3_server.client().delete_object(Bucket=s3_storage, Key=image.file)

    response = client.get(image.path)

    assert response.status_code == 404
    assert response.json()["error"]["code"] == "not_found"


def test_readiness_checks_the_bucket(client, flux, s3_server, s3_storage, settings, monkeypatch):
    assert ready(client, settings)["checks"]["storage"] == "ok"
    assert s3_server.object_keys(s3_storage) == []  # the probe's object is gone again

    point_storage_at(settings, monkeypatch, s3_server.gateway_env("no-such-bucket"))
    assert ready(client, settings)["checks"]["storage"] == "unreachable"

    point_storage_at(settings, monkeypatch, nothing_listens(s3_server, s3_storage))
    body = ready(client, settings)
    assert body["checks"]["storage"] == "unreachable"
    assert body["status"] == "unavailable"


def test_a_served_image_from_s3_is_the_stored_one(client, flux, s3_storage):
    """The control for the failures above: the same request with the bucket up."""
    assert generate(client).status_code == 200
    assert client.get(StoredImage.objects.get().path).content == png_bytes(40, 30)
