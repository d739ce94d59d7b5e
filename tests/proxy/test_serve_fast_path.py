"""Stored images through the whole ASGI application, where ``imagegen.api.image_fast_path`` answers GETs
without Django's request cycle: the same answers as the view, and the view's errors where it steps aside."""

from __future__ import annotations

import pytest
from django.core.files.storage import default_storage

from core.state import process_state
from imagegen.api.image_fast_path import ImageBytes
from proxy.removal import take_down
from proxy.services import store_image
from tests.asgi_client import asgi_request
from tests.fakes.server import png_bytes
from tests.proxy import run

pytestmark = pytest.mark.django_db(transaction=True)
VARYING = {"x-request-id", "date", "server"}


@pytest.fixture
def image():
    return run(store_image(data=png_bytes(200, 100), vendor="fake"))


def headers(response) -> dict[str, str]:
    return {name: value for name, value in response.headers.items() if name not in VARYING}


def test_a_get_answers_what_the_view_answers(image, settings):
    fast = asgi_request("GET", image.path)
    settings.USE_X_FORWARDED_HOST = True  # the fast path leaves Django's host rules to Django: the view answers
    through_view = asgi_request("GET", image.path)

    assert fast.status_code == through_view.status_code == 200
    assert fast.content == through_view.content == png_bytes(200, 100)
    assert headers(fast) == headers(through_view)


def test_repeated_gets_are_served_from_memory_even_when_storage_is_slow_to_answer(image, monkeypatch):
    assert asgi_request("GET", image.path).content == png_bytes(200, 100)
    monkeypatch.setattr(default_storage, "open", lambda *a, **k: pytest.fail("storage was read again"))

    assert asgi_request("GET", image.path).content == png_bytes(200, 100)


def test_an_image_taken_down_after_it_was_served_is_a_410(image, settings):
    settings.IMAGE_REMOVAL_CHECK_SECONDS = 0.0  # the removal stamp is read at every request
    assert asgi_request("GET", image.path).status_code == 200

    take_down([image.id], by="operator")

    response = asgi_request("GET", image.path)
    assert response.status_code == 410
    assert response.json()["error"]["code"] == "image_removed"


def test_conditional_head_unknown_and_wrong_host_requests_keep_the_views_answers(image, settings):
    settings.ALLOWED_HOSTS = ["testserver"]
    etag = f'"{image.sha256}"'

    assert asgi_request("GET", image.path, headers={"If-None-Match": etag}).status_code == 304
    head = asgi_request("HEAD", image.path)
    assert (head.status_code, head.content, head.headers["content-length"]) == (200, b"", str(image.byte_size))
    assert asgi_request("GET", "/images/nothing-here.png").json()["error"]["code"] == "not_found"
    assert asgi_request("GET", image.path.replace(".png", ".jpg")).status_code == 404
    refused = asgi_request("GET", image.path, headers={"Host": "attacker.example"})
    assert refused.status_code == 400
    assert refused.json()["error"]["code"] == "invalid_host"


def test_with_an_offload_header_the_proxy_is_told_which_file_to_send(image, settings):
    settings.IMAGE_OFFLOAD_HEADER = "X-Accel-Redirect"
    settings.IMAGE_OFFLOAD_PREFIX = "/_stored/"

    response = asgi_request("GET", image.path)

    assert response.status_code == 200
    assert response.content == b""
    assert response.headers["x-accel-redirect"] == f"/_stored/{image.file}"
    assert response.headers["content-type"] == "image/png"
    assert response.headers["etag"] == f'"{image.sha256}"'
    assert default_storage.exists(response.headers["x-accel-redirect"].removeprefix("/_stored/"))


def test_the_memory_keeps_the_most_recent_images_within_its_size(settings):
    settings.IMAGE_MEMORY_CACHE_MB = 1
    memory = process_state().slot(ImageBytes)
    for n in range(10):
        memory.put(f"t{n}", bytes(200 * 1024))

    assert memory.size <= 1024 * 1024
    assert memory.get("t9") is not None and memory.get("t0") is None
    memory.put("huge", bytes(600 * 1024))  # over a quarter of the room: not kept
    assert memory.get("huge") is None
