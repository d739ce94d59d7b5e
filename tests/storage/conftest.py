"""Fixtures for image storage on S3: one moto S3 server for the session, a fresh bucket per test."""

from __future__ import annotations

import pytest

from tests.s3_server import S3Server


@pytest.fixture(scope="session")
def s3_server():
    with S3Server() as server:
        yield server


@pytest.fixture
def s3_bucket(s3_server) -> str:
    return s3_server.make_bucket()
