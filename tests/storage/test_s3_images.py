"""Images in an S3 bucket (IMAGE_STORAGE=s3), through the in-process gateway and a real S3 server.

Each test has a fresh bucket on moto's S3 server (tests/s3_server.py); objects are read back with boto3.
"""

from __future__ import annotations

import base64
import hashlib
import json
from datetime import timedelta
from pathlib import Path

import pytest
from botocore.exceptions import ClientError
from django.conf import settings as django_settings
from django.utils import timezone

from proxy.models import StoredImage
from proxy.removal import purge_expired, take_down
from tests.fakes.server import png_bytes
from tests.storage.conftest import CLIENT_KEY

pytestmark = pytest.mark.django_db(transaction=True)

AUTH = {"HTTP_AUTHORIZATION": f"Bearer {CLIENT_KEY}"}
CDN = "https://cdn.example/imagegen"


def generate(client, **fields):
    body = {"model": "flux-schnell", "prompt": "a red fox", **fields}
    return client.post("/v1/images/generations", data=json.dumps(body), content_type="application/json", **AUTH)


def generated(client, **fields) -> tuple[dict, StoredImage]:
    response = generate(client, **fields)
    assert response.status_code == 200, response.content
    return response.json(), StoredImage.objects.order_by("-pk").first()


def head(s3_server, bucket: str, key: str) -> dict | None:
    try:
        return s3_server.client().head_object(Bucket=bucket, Key=key)
    except ClientError as exc:
        assert exc.response["Error"]["Code"] in {"404", "NoSuchKey"}
        return None


def local_files() -> list[Path]:
    return [path for path in Path(django_settings.MEDIA_ROOT).rglob("*") if path.is_file()]


def test_a_generated_image_is_an_object_named_by_its_hash_with_immutable_cache_headers(
    client, flux, s3_server, s3_storage
):
    _, image = generated(client)

    sha = hashlib.sha256(png_bytes(40, 30)).hexdigest()
    assert image.file == f"images/{sha[:2]}/{sha}.png"
    found = head(s3_server, s3_storage, image.file)
    assert found["CacheControl"] == "public, max-age=31536000, immutable"
    assert found["ContentType"] == "image/png"
    assert found["ContentLength"] == image.byte_size
    stored = s3_server.client().get_object(Bucket=s3_storage, Key=image.file)["Body"].read()
    assert stored == png_bytes(40, 30)
    assert local_files() == []  # nothing went to local disk


def test_the_gateway_link_serves_the_objects_bytes_and_a_304_for_its_etag(client, flux, s3_storage):
    body, image = generated(client)
    assert body["data"][0]["url"] == f"http://testserver/images/{image.token}.png"

    served = client.get(image.path)
    again = client.get(image.path, headers={"If-None-Match": served["ETag"]})

    assert served.status_code == 200
    assert served.content == png_bytes(40, 30)
    assert (served["Content-Type"], served["Cache-Control"]) == ("image/png", "public, max-age=31536000, immutable")
    assert served["ETag"] == f'"{image.sha256}"'
    assert again.status_code == 304 and again.content == b""


def test_b64_json_answers_carry_the_objects_bytes(client, flux, s3_storage):
    body, _ = generated(client, response_format="b64_json")

    assert base64.b64decode(body["data"][0]["b64_json"]) == png_bytes(40, 30)


def test_public_links_point_at_the_cdn_base_and_the_prefixed_object_key(
    client, flux, s3_server, s3_bucket, settings, monkeypatch
):
    from tests.storage.conftest import point_storage_at

    point_storage_at(settings, monkeypatch, s3_server.gateway_env(s3_bucket, AWS_LOCATION="tenant-a/"))
    settings.IMAGE_LINKS, settings.IMAGE_PUBLIC_BASE_URL = "public", CDN

    body, image = generated(client)

    key = f"tenant-a/{image.file}"
    assert body["data"][0]["url"] == f"{CDN}/{key}"
    assert head(s3_server, s3_bucket, key)["CacheControl"] == "public, max-age=31536000, immutable"
    served = client.get(image.path)  # the gateway's own route still serves it
    assert served.status_code == 200 and served.content == png_bytes(40, 30)


def test_a_takedown_deletes_the_object_and_the_link_answers_410(client, flux, s3_server, s3_storage):
    _, image = generated(client)

    done = take_down([image.pk], by="admin", reason="reported")

    assert done.files_deleted == 1
    assert head(s3_server, s3_storage, image.file) is None
    gone = client.get(image.path)
    assert gone.status_code == 410 and gone.json()["error"]["code"] == "image_removed"


def test_the_purge_deletes_expired_objects_and_keeps_the_others(client, flux, s3_server, s3_storage, sf_second_image):
    _, first = generated(client)
    StoredImage.objects.filter(pk=first.pk).update(expires_at=timezone.now() - timedelta(minutes=1))
    sf_second_image()
    _, second = generated(client, prompt="a blue whale")

    done = purge_expired()

    assert (done.rows, done.files_deleted, done.files_failed) == (1, 1, 0)
    assert head(s3_server, s3_storage, first.file) is None
    assert head(s3_server, s3_storage, second.file) is not None
    assert client.get(second.path).content == png_bytes(41, 30)


@pytest.fixture
def sf_second_image(flux):
    """Makes the SiliconFlow fake answer with another picture (other bytes, another object)."""

    def change() -> None:
        flux.image = png_bytes(41, 30)

    return change
