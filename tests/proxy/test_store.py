"""Storing images: every source, Pillow verification, the byte cap, content addressing, public URLs."""

from __future__ import annotations

import base64
import hashlib
import io
from pathlib import Path

import pytest
from django.conf import settings as django_settings
from django.core.files.storage import default_storage
from django.test import RequestFactory
from PIL import Image

from proxy.models import StoredImage
from proxy.services import ImageFetchFailed, public_url, read_stored, store_image
from tests.fakes.image_host import FakeImageHost
from tests.fakes.server import jpeg_bytes, png_bytes
from tests.proxy import run

pytestmark = pytest.mark.django_db(transaction=True)


def image_bytes(fmt: str, size: tuple[int, int] = (24, 16)) -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", size, (10, 120, 40)).save(buffer, format=fmt)
    return buffer.getvalue()


def stored_files() -> list[Path]:
    root = Path(django_settings.MEDIA_ROOT)
    return sorted(p for p in root.rglob("*") if p.is_file()) if root.exists() else []


def refused(**kwargs) -> str:
    with pytest.raises(ImageFetchFailed) as caught:
        run(store_image(**kwargs))
    return str(caught.value)


@pytest.fixture
def host():
    with FakeImageHost() as server:
        yield server


# --- sources ------------------------------------------------------------------------------------


def test_an_image_from_a_url_is_stored_under_its_hash_with_its_measurements(host):
    image = run(store_image(url=host.url_for("/image.png"), vendor="openai", trusted_origins=[host.url]))

    sha = hashlib.sha256(host.body).hexdigest()
    assert image.pk is not None
    assert (image.sha256, image.content_type, image.extension) == (sha, "image/png", "png")
    assert (image.width, image.height, image.byte_size) == (64, 64, len(host.body))
    assert image.vendor == "openai"
    assert image.file == f"images/{sha[:2]}/{sha}.png"
    assert default_storage.open(image.file).read() == host.body
    assert StoredImage.objects.get(token=image.token).sha256 == sha


def test_an_image_from_plain_base64_is_stored():
    data = png_bytes(32, 20)

    image = run(store_image(b64=base64.b64encode(data).decode()))

    assert (image.width, image.height) == (32, 20)
    assert read_stored(image) == data


def test_an_image_from_a_data_url_is_stored_as_what_the_bytes_are():
    data = jpeg_bytes()

    image = run(store_image(b64="data:image/png;base64," + base64.b64encode(data).decode()))

    assert (image.content_type, image.extension) == ("image/jpeg", "jpg")
    assert read_stored(image) == data


def test_url_safe_base64_without_padding_and_with_line_breaks_is_accepted():
    data = png_bytes(33, 7)
    encoded = base64.urlsafe_b64encode(data).decode().rstrip("=")
    wrapped = "\n".join(encoded[i : i + 76] for i in range(0, len(encoded), 76))

    assert read_stored(run(store_image(b64=wrapped))) == data


@pytest.mark.parametrize(
    ("fmt", "content_type", "extension"),
    [
        ("PNG", "image/png", "png"),
        ("JPEG", "image/jpeg", "jpg"),
        ("WEBP", "image/webp", "webp"),
        ("GIF", "image/gif", "gif"),
    ],
)
def test_raw_bytes_of_each_allowed_format_get_its_type_and_extension(fmt, content_type, extension):
    data = image_bytes(fmt)

    image = run(store_image(data=data, content_type="application/octet-stream"))

    assert (image.content_type, image.extension) == (content_type, extension)
    assert image.file.endswith(f".{extension}")
    assert image.path == f"/images/{image.token}.{extension}"


def test_the_same_bytes_twice_make_one_file_and_two_rows_with_different_tokens():
    data = png_bytes()

    first = run(store_image(data=data))
    second = run(store_image(b64=base64.b64encode(data).decode()))

    assert first.token != second.token
    assert first.file == second.file
    assert len(stored_files()) == 1
    assert StoredImage.objects.filter(sha256=first.sha256).count() == 2


def test_tokens_are_long_and_random():
    images = [run(store_image(data=png_bytes())) for _ in range(3)]

    assert len({image.token for image in images}) == 3
    assert all(len(image.token) >= 22 for image in images)  # >= 128 bits of base64url


# --- refusals -----------------------------------------------------------------------------------


@pytest.mark.parametrize("text", ["not base64 at all!", "data:image/png;base64,@@@@", "data:image/png,rawtext"])
def test_invalid_base64_is_refused(text):
    assert refused(b64=text) == "the vendor returned an invalid base64 image"
    assert StoredImage.objects.count() == 0


@pytest.mark.parametrize(
    "data",
    [b"<html>error</html>", png_bytes()[:60], image_bytes("BMP"), image_bytes("TIFF")],
    ids=["html", "truncated-png", "bmp", "tiff"],
)
def test_bytes_that_are_not_an_allowed_image_are_refused_and_nothing_is_kept(data):
    message = refused(data=data)

    assert message.startswith("the vendor returned something that is not an image")
    assert StoredImage.objects.count() == 0
    assert stored_files() == []


def test_a_url_answering_html_is_refused(host):
    host.body, host.content_type = b"<html>Access denied</html>", "text/html"

    message = refused(url=host.url_for("/image.png"), trusted_origins=[host.url])

    assert message.startswith("the vendor returned something that is not an image")
    assert str(host.port) not in message


@pytest.mark.parametrize("source", ["url", "b64", "data"])
def test_an_image_over_the_byte_cap_is_refused_from_every_source(host, settings, source):
    data = host.body
    settings.IMAGE_MAX_BYTES = len(data) - 1
    kwargs = {
        "url": {"url": host.url_for("/image.png"), "trusted_origins": [host.url]},
        "b64": {"b64": base64.b64encode(data).decode()},
        "data": {"data": data},
    }[source]

    assert refused(**kwargs).startswith("the image is larger than")
    assert StoredImage.objects.count() == 0


def test_an_image_exactly_at_the_byte_cap_is_stored(settings):
    data = png_bytes()
    settings.IMAGE_MAX_BYTES = len(data)

    assert run(store_image(b64=base64.b64encode(data).decode())).byte_size == len(data)


def test_a_url_that_expired_is_refused(host):
    url = host.url_for("/expiring.png")
    host.expire()

    assert refused(url=url, trusted_origins=[host.url]) == "the vendor's image URL answered HTTP 404"


def test_a_loopback_url_is_refused_unless_its_origin_is_trusted(host):
    message = refused(url=host.url_for("/image.png"))

    assert message == "the image URL points to a private network address"
    assert run(store_image(url=host.url_for("/image.png"), trusted_origins=[host.url])).byte_size == len(host.body)


def test_no_source_is_refused_and_two_sources_are_a_programming_error():
    assert refused() == "the vendor returned no image"
    assert refused(b64="") == "the vendor returned no image"
    with pytest.raises(ValueError):
        run(store_image(data=png_bytes(), b64="AAAA"))


# --- public URLs --------------------------------------------------------------------------------


def test_public_url_uses_public_base_url_when_it_is_set(settings):
    settings.PUBLIC_BASE_URL = "https://img.example.com/"
    image = run(store_image(data=png_bytes()))
    request = RequestFactory().get("/v1/chat/completions", HTTP_HOST="gateway.internal:8000")

    assert public_url(image, request) == f"https://img.example.com/images/{image.token}.png"
    assert public_url(image) == f"https://img.example.com/images/{image.token}.png"


def test_public_url_is_built_from_the_request_host_without_public_base_url(settings):
    settings.PUBLIC_BASE_URL = ""
    image = run(store_image(data=jpeg_bytes()))
    request = RequestFactory().get("/v1/chat/completions", HTTP_HOST="gateway.example:8000")

    assert public_url(image, request) == f"http://gateway.example:8000/images/{image.token}.jpg"
    assert public_url(image) == f"/images/{image.token}.jpg"
