"""With the cache or the database down, the API answers 503 service_unavailable within about a
second, pays no vendor, says which one in /health, and recovers by itself once it answers again.

The cache is pointed, in-process, at a Redis address that accepts and never answers (a listening
socket nobody accepts on) or at a closed port. Stopping this machine's PostgreSQL is not an
option: tests/e2e/test_dependencies.py puts a real gateway behind a proxy that freezes and drops it.
"""

import json
import logging
import socket
import threading
import time

import pytest
from django.db import InterfaceError, OperationalError, connection
from redis.exceptions import ConnectionError as RedisConnectionError

from imagegen.api import dependencies
from proxy.models import StoredImage
from tests.factories import client_key_row
from tests.gateway_process import free_port

pytestmark = pytest.mark.django_db(transaction=True)

CLIENT_KEY = "client-key-for-outages-0001"
BOUND = 5.0  # "about a second", with room for a loaded machine


@pytest.fixture(autouse=True)
def _bootstrap_key(settings):
    client_key_row(CLIENT_KEY)


@pytest.fixture
def blackhole():
    """A TCP address that accepts connections (the kernel's backlog) and never answers."""
    with socket.socket() as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen(64)
        yield listener.getsockname()[1]


@pytest.fixture
def redis_at(settings):
    """Point the cache at a Redis on this port, configured as settings.py configures REDIS_URL."""
    working = settings.CACHES

    def point(port):
        backend = "django.core.cache.backends.redis.RedisCache"
        location, options = f"redis://127.0.0.1:{port}/0", settings.REDIS_CACHE_OPTIONS
        settings.CACHES = {"default": {"BACKEND": backend, "LOCATION": location, "OPTIONS": options}}

    point.back = lambda: setattr(settings, "CACHES", working)
    yield point
    point.back()
    dependencies.settle()  # the probe still waiting on the dead address must not delay the next test


def post(client, path, body):
    return client.post(
        path, data=json.dumps(body), content_type="application/json", HTTP_AUTHORIZATION=f"Bearer {CLIENT_KEY}"
    )


MESSAGES = [{"role": "user", "content": "a red fox"}]
REQUESTS = [
    ("/v1/chat/completions", {"model": "flux-schnell", "messages": MESSAGES}),
    ("/v1/chat/completions", {"model": "flux-schnell", "messages": MESSAGES, "stream": True}),
    ("/v1/images/generations", {"model": "flux-schnell", "prompt": "a red fox"}),
]


def assert_unavailable(response, started, dependency):
    assert time.monotonic() - started < BOUND
    assert response.status_code == 503, response.content
    assert response["Content-Type"] == "application/json"  # a plain error, even for a stream request
    error = response.json()["error"]
    assert (error["code"], error["type"]) == ("service_unavailable", "server_error")
    assert dependency in error["message"]
    assert 1 <= int(response["Retry-After"]) <= 10


@pytest.mark.parametrize(("path", "body"), REQUESTS)
@pytest.mark.parametrize("where", ["blackhole", "closed port"])
def test_with_the_cache_down_a_generation_is_a_prompt_503_and_no_vendor_is_paid(
    client, flux, sf, blackhole, redis_at, path, body, where
):
    redis_at(blackhole if where == "blackhole" else free_port())
    started = time.monotonic()
    assert_unavailable(post(client, path, body), started, "cache")
    assert sf.requests == []
    assert StoredImage.objects.count() == 0


def test_with_the_cache_down_health_names_it_and_the_api_recovers_when_it_is_back(
    client, flux, sf, blackhole, redis_at
):
    redis_at(blackhole)
    started = time.monotonic()
    response = client.get("/health")
    assert time.monotonic() - started < BOUND
    assert response.status_code == 503
    assert response.json() == {
        "status": "unavailable",
        "checks": {"database": "ok", "cache": "timeout", "storage": "ok"},
    }
    assert client.get("/v1/models", HTTP_AUTHORIZATION=f"Bearer {CLIENT_KEY}").status_code == 503
    redis_at.back()
    dependencies.settle()
    assert client.get("/health").status_code == 200
    assert post(client, *REQUESTS[0]).status_code == 200
    assert len([call for call in sf.requests if call.method == "POST"]) == 1


def test_a_cache_on_a_closed_port_is_reported_unreachable(client, redis_at):
    redis_at(free_port())
    assert client.get("/health").json()["checks"]["cache"] == "unreachable"


@pytest.fixture
def frozen_database(monkeypatch):
    """The database probe hangs, as on a PostgreSQL that accepts and never answers, until released."""
    released = threading.Event()
    monkeypatch.setattr(dependencies, "database_answers", lambda: released.wait(30))
    yield
    released.set()
    dependencies.settle()


def test_with_the_database_frozen_a_generation_is_a_prompt_503_and_no_vendor_is_paid(client, flux, sf, frozen_database):
    for path, body in REQUESTS:
        started = time.monotonic()
        assert_unavailable(post(client, path, body), started, "database")
    assert sf.requests == []
    started = time.monotonic()
    assert client.get("/health").json()["checks"] == {"database": "timeout", "cache": "ok", "storage": "ok"}
    assert time.monotonic() - started < BOUND


def test_storage_that_cannot_be_written_fails_the_health_check(client, settings, tmp_path):
    settings.MEDIA_ROOT = str(tmp_path / "a-file")
    (tmp_path / "a-file").write_text("not a folder")
    response = client.get("/health")
    assert response.status_code == 503
    assert response.json()["checks"] == {"database": "ok", "cache": "ok", "storage": "unreachable"}


@pytest.mark.parametrize(
    "failure",
    [
        OperationalError("connection to server at 10.20.30.40, port 5432 failed: Connection refused"),
        InterfaceError("connection already closed"),
        RedisConnectionError("Error 111 connecting to 10.20.30.41:6379. Connection refused."),
    ],
)
def test_a_dependency_failing_after_the_checks_is_a_503_that_names_no_address(
    client, flux, sf, monkeypatch, caplog, failure
):
    from imagegen import pipeline

    async def fail(request):
        raise failure

    monkeypatch.setattr(pipeline, "generate", fail)
    with caplog.at_level(logging.INFO):
        response = post(client, *REQUESTS[2])
    assert response.status_code == 503
    assert response.json()["error"]["code"] == "service_unavailable"
    assert "10.20.30" not in response.content.decode() + caplog.text


@pytest.mark.skipif(connection.vendor != "postgresql", reason="PostgreSQL's own timeouts")
def test_postgresql_connections_carry_the_statement_timeout(settings):
    with connection.cursor() as cursor:
        cursor.execute("SHOW statement_timeout")
        assert cursor.fetchone()[0] == "10s"
    assert settings.DATABASES["default"]["OPTIONS"]["connect_timeout"] == 3
    assert settings.DATABASES["default"]["OPTIONS"]["pool"]["timeout"] == 5.0
