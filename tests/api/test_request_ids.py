"""Following one request: its X-Request-ID (the client's, or one made) on the answer, whatever the answer,
in every log line written for it (as JSON with LOG_FORMAT=json) and on its ledger row."""

import io
import json
import logging
import re

import pytest

from core.logs import JsonFormatter, RequestIdFilter
from core.redaction import RedactingFilter
from imagegen.models import Generation
from tests.asgi_client import asgi_request
from tests.factories import client_key_row, make_key

pytestmark = pytest.mark.django_db(transaction=True)

CLIENT_KEY = "client-key-for-request-ids-0001"
MADE = re.compile(r"req_[0-9a-f]{20}")
AUTH = {"Authorization": f"Bearer {CLIENT_KEY}"}
IMAGE = {"model": "flux-schnell", "prompt": "a red fox"}


@pytest.fixture(autouse=True)
def _bootstrap_key(settings):
    client_key_row(CLIENT_KEY)


def test_a_request_without_an_id_gets_one_that_its_answer_and_ledger_row_carry(flux):
    response = asgi_request("POST", "/v1/images/generations", json=IMAGE, headers=AUTH)

    assert response.status_code == 200
    request_id = response.headers["X-Request-ID"]
    assert MADE.fullmatch(request_id)
    assert Generation.objects.get().request_id == request_id


@pytest.mark.parametrize(
    "sent",
    ["checkout-7f3a.retry:2", "6f1c7b9e-3c2d-4e8a-9b1f-0a2b3c4d5e6f", "0123456789abcdef0123456789abcdef"],
    ids=["plain", "uuid", "nginx-request-id"],
)
def test_a_clients_plain_id_is_kept(flux, sent):
    response = asgi_request("POST", "/v1/images/generations", json=IMAGE, headers={**AUTH, "X-Request-ID": sent})

    assert response.headers["X-Request-ID"] == sent
    assert Generation.objects.get().request_id == sent


@pytest.mark.parametrize(
    "sent",
    ["two words", "x" * 129, "sk-ig-Zm9vYmFyYmF6cXV4cXV1eA", "a/b", "<script>"],
    ids=["space", "too-long", "a-client-key", "slash", "markup"],
)
def test_an_id_that_is_not_a_plain_token_is_replaced(sent):
    response = asgi_request("GET", "/v1/models", headers={**AUTH, "X-Request-ID": sent})

    assert response.status_code == 200
    assert MADE.fullmatch(response.headers["X-Request-ID"])


def test_errors_the_admin_and_streams_carry_the_id_too(flux):
    missing_key = asgi_request("POST", "/v1/images/generations", json=IMAGE, headers={"X-Request-ID": "e-401"})
    unknown = asgi_request("GET", "/v1/nothing-here", headers={"X-Request-ID": "e-404"})
    admin = asgi_request("GET", "/admin/login/", headers={"X-Request-ID": "admin-1"})
    chat = {"model": "flux-schnell", "messages": [{"role": "user", "content": "a fox"}], "stream": True}
    stream = asgi_request("POST", "/v1/chat/completions", json=chat, headers={**AUTH, "X-Request-ID": "s-1"})

    assert (missing_key.status_code, missing_key.json()["error"]["code"]) == (401, "invalid_api_key")
    assert missing_key.headers["X-Request-ID"] == "e-401"
    assert (unknown.status_code, unknown.headers["X-Request-ID"]) == (404, "e-404")
    assert (admin.status_code, admin.headers["X-Request-ID"]) == (200, "admin-1")
    assert stream.headers["Content-Type"].startswith("text/event-stream")
    assert stream.text.endswith("data: [DONE]\n\n")
    assert stream.headers["X-Request-ID"] == "s-1"
    assert Generation.objects.get().request_id == "s-1"


@pytest.fixture
def json_log():
    """What the root logger writes through the console handler's filters, as LOG_FORMAT=json writes it."""
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.addFilter(RedactingFilter())
    handler.addFilter(RequestIdFilter())
    handler.setFormatter(JsonFormatter())
    logging.getLogger().addHandler(handler)
    try:
        yield stream
    finally:
        logging.getLogger().removeHandler(handler)


def test_every_log_line_of_a_request_names_it_in_one_json_object(flux, sf, json_log):
    make_key(flux.vendor, "sk-sf-key-bbbb2222", label="k2")
    sf.default_behaviour = "server_error"  # both keys fail: a warning each, then the error answer

    response = asgi_request("POST", "/v1/images/generations", json=IMAGE, headers={**AUTH, "X-Request-ID": "trace-9"})

    assert response.status_code >= 500
    assert response.headers["X-Request-ID"] == "trace-9"
    lines = json_log.getvalue().splitlines()
    entries = [json.loads(line) for line in lines]
    assert len([entry for entry in entries if entry["logger"] == "vendors.keys"]) == 2
    assert {entry.get("request_id") for entry in entries} == {"trace-9"}
    assert all({"time", "level", "logger", "message"} <= entry.keys() for entry in entries)
    assert "sk-sf-key" not in json_log.getvalue()
    assert Generation.objects.get().request_id == "trace-9"


def test_a_plain_line_names_its_request_in_brackets(flux, sf, settings):
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.addFilter(RequestIdFilter())
    handler.setFormatter(logging.Formatter(settings.LOGGING["formatters"]["plain"]["format"]))
    sf.default_behaviour = "rate_limited"
    logging.getLogger().addHandler(handler)
    try:
        asgi_request("POST", "/v1/images/generations", json=IMAGE, headers={**AUTH, "X-Request-ID": "plain-7"})
        logging.getLogger("tests").warning("after the request")
    finally:
        logging.getLogger().removeHandler(handler)

    during, after = stream.getvalue().splitlines()
    assert " WARNING vendors.keys [plain-7]: vendor sf key k1: upstream_rate_limited" in during
    assert after.endswith(" WARNING tests [-]: after the request")
