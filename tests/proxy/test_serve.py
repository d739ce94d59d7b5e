"""Serving stored images at /images/<token>.<ext>: headers, conditional requests, errors."""

from __future__ import annotations

import pytest
from django.core.files.storage import default_storage

from proxy import selectors
from proxy.services import store_image
from tests.fakes.image_host import FakeImageHost
from tests.fakes.server import jpeg_bytes, png_bytes
from tests.proxy import run

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def image():
    return run(store_image(data=png_bytes(200, 100), vendor="fake"))


def assert_openai_error(response, status: int, code: str) -> dict:
    assert response.status_code == status
    assert response["Content-Type"] == "application/json"
    error = response.json()["error"]
    assert set(error) == {"message", "type", "param", "code"}
    assert error["code"] == code
    assert error["type"] == "invalid_request_error"
    return error


def test_a_stored_image_is_served_with_its_type_length_and_cache_headers(client, image):
    response = client.get(image.path)

    assert response.status_code == 200
    assert response.content == png_bytes(200, 100)
    assert response["Content-Type"] == "image/png"
    assert response["Content-Length"] == str(image.byte_size)
    assert response["Cache-Control"] == "public, max-age=31536000, immutable"
    assert response["ETag"] == f'"{image.sha256}"'
    assert response["Access-Control-Allow-Origin"] == "*"


def test_a_jpeg_is_served_as_a_jpeg(client):
    stored = run(store_image(data=jpeg_bytes()))

    response = client.get(f"/images/{stored.token}.jpg")

    assert response.status_code == 200
    assert response["Content-Type"] == "image/jpeg"
    assert response.content == jpeg_bytes()


def test_head_answers_the_same_headers_without_a_body(client, image):
    response = client.head(image.path)

    assert response.status_code == 200
    assert response.content == b""
    assert response["Content-Length"] == str(image.byte_size)
    assert response["ETag"] == f'"{image.sha256}"'
    assert response["Content-Type"] == "image/png"


@pytest.mark.parametrize(
    "if_none_match",
    ['"{sha}"', 'W/"{sha}"', '"0123", "{sha}"', "*"],
    ids=["exact", "weak", "list", "star"],
)
def test_a_matching_if_none_match_gets_a_304_with_the_same_headers_and_no_body(client, image, if_none_match):
    response = client.get(image.path, headers={"If-None-Match": if_none_match.format(sha=image.sha256)})

    assert response.status_code == 304
    assert response.content == b""
    assert response["ETag"] == f'"{image.sha256}"'
    assert response["Cache-Control"] == "public, max-age=31536000, immutable"
    assert response["Access-Control-Allow-Origin"] == "*"


def test_a_different_etag_gets_the_whole_image(client, image):
    response = client.get(image.path, headers={"If-None-Match": '"not-the-hash"'})

    assert response.status_code == 200
    assert response.content == png_bytes(200, 100)


def test_an_unknown_token_is_an_openai_shaped_404(client, image):
    error = assert_openai_error(client.get("/images/AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA.png"), 404, "not_found")

    assert error["message"] == "No stored image has this URL."


def test_a_token_with_characters_no_token_has_is_a_404(client):
    assert_openai_error(client.get("/images/a%20b.png"), 404, "not_found")


@pytest.mark.parametrize("ext", ["jpg", "jpeg", "PNG", "webp"])
def test_the_wrong_extension_is_a_404(client, image, ext):
    assert_openai_error(client.get(f"/images/{image.token}.{ext}"), 404, "not_found")


@pytest.mark.parametrize("method", ["post", "put", "delete"])
def test_methods_other_than_get_and_head_are_a_405_with_an_allow_header(client, image, method):
    response = getattr(client, method)(image.path)

    assert_openai_error(response, 405, "method_not_allowed")
    assert response["Allow"] == "GET, HEAD"


def test_the_image_still_serves_after_the_vendor_host_stopped(client):
    host = FakeImageHost(png_bytes(40, 40, (1, 2, 3))).start()
    try:
        stored = run(store_image(url=host.url_for("/expiring.png"), trusted_origins=[host.url]))
        host.expire()
    finally:
        host.stop()

    response = client.get(stored.path)

    assert response.status_code == 200
    assert response.content == png_bytes(40, 40, (1, 2, 3))


def test_a_repeat_request_is_answered_without_asking_the_database(client, image, monkeypatch):
    lookups = []
    original = selectors._lookup
    monkeypatch.setattr(selectors, "_lookup", lambda token: lookups.append(token) or original(token))

    first = client.get(image.path)
    second = client.get(image.path)

    assert first.status_code == second.status_code == 200
    assert second.content == first.content
    assert lookups == [image.token]


def test_an_unknown_token_is_not_remembered(client, monkeypatch):
    lookups = []
    monkeypatch.setattr(selectors, "_lookup", lambda token: lookups.append(token))

    client.get("/images/missing.png")
    client.get("/images/missing.png")

    assert lookups == ["missing", "missing"]


def test_an_image_whose_file_is_gone_is_a_404_and_is_forgotten(client, image):
    assert client.get(image.path).status_code == 200
    default_storage.delete(image.file)

    assert_openai_error(client.get(image.path), 404, "not_found")
    assert selectors.recent_images().get(image.token) is None


def test_the_index_forgets_the_least_recently_used_token_beyond_its_size():
    index = selectors.RecentImages()
    index.max_entries = 2
    entry = selectors.StoredFile("f", "image/png", "sha", 1, "png")
    index.put("a", entry)
    index.put("b", entry)
    index.get("a")

    index.put("c", entry)

    assert (index.get("a"), index.get("b"), index.get("c")) == (entry, None, entry)
    assert len(index) == 2
