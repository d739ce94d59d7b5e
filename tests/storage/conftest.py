"""Fixtures for image storage on S3: one moto S3 server for the session, a fresh bucket per test, and the
in-process gateway's image storage pointed at that bucket (``s3_storage``)."""

from __future__ import annotations

import pytest

from imagegen.storage_settings import s3_options
from tests.factories import client_key_row, make_key, make_model, make_vendor
from tests.fakes.server import png_bytes
from tests.fakes.siliconflow import SiliconFlowFake
from tests.s3_server import S3Server

CLIENT_KEY = "client-key-for-s3-storage-0001"


@pytest.fixture(scope="session")
def s3_server():
    with S3Server() as server:
        yield server


@pytest.fixture
def s3_bucket(s3_server) -> str:
    return s3_server.make_bucket()


def point_storage_at(settings, monkeypatch, environment: dict[str, str]) -> None:
    """What IMAGE_STORAGE=s3 with this environment makes of STORAGES, for the in-process gateway."""
    for name, value in environment.items():
        monkeypatch.setenv(name, value)
    settings.IMAGE_STORAGE = "s3"
    settings.STORAGES = {
        **settings.STORAGES,
        "default": {"BACKEND": "storages.backends.s3.S3Storage", "OPTIONS": s3_options()},
    }


@pytest.fixture
def s3_storage(settings, monkeypatch, s3_server, s3_bucket) -> str:
    """Images of the in-process gateway go to a fresh bucket on the test S3 server; its name."""
    point_storage_at(settings, monkeypatch, s3_server.gateway_env(s3_bucket))
    return s3_bucket


@pytest.fixture
def flux():
    """flux-schnell on a SiliconFlow fake, and a client key (CLIENT_KEY) that may use it."""
    with SiliconFlowFake(image=png_bytes(40, 30)) as fake:
        vendor = make_vendor(name="sf", kind="siliconflow", base_url=fake.url + "/v1", timeout=3.0)
        make_key(vendor, "sk-sf-key-aaaa1111", label="k1")
        make_model(vendor, name="flux-schnell")
        client_key_row(CLIENT_KEY)
        yield fake
