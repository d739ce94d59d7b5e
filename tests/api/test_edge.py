"""The HTTP edge: authentication, error shapes, model list and health."""

import json

import pytest
from django.db import connection

from tests.factories import client_key_row, make_client_key, make_model, make_route, make_vendor

pytestmark = pytest.mark.django_db(transaction=True)

CLIENT_KEY = "bootstrap-client-key-1234"


@pytest.fixture(autouse=True)
def _bootstrap_key(settings):
    client_key_row(CLIENT_KEY)


def auth(key=CLIENT_KEY):
    return {"HTTP_AUTHORIZATION": f"Bearer {key}"}


def assert_openai_error(response, status, code=None):
    assert response.status_code == status
    body = response.json()
    assert set(body) == {"error"}
    assert set(body["error"]) == {"message", "type", "param", "code"}
    assert body["error"]["message"]
    if code is not None:
        assert body["error"]["code"] == code
    return body["error"]


def post_chat(client, body, **headers):
    data = body if isinstance(body, str | bytes) else json.dumps(body)
    return client.post("/v1/chat/completions", data=data, content_type="application/json", **headers)


def test_a_request_without_a_key_is_refused(client):
    assert_openai_error(client.get("/v1/models"), 401, "invalid_api_key")


def test_a_wrong_key_is_refused_and_not_echoed(client):
    error = assert_openai_error(client.get("/v1/models", **auth("sk-wrong-key-abcdef")), 401, "invalid_api_key")
    assert "sk-wrong-key-abcdef" not in error["message"]


def test_a_client_key_made_in_admin_works_until_disabled(client):
    key, raw = make_client_key()
    assert client.get("/v1/models", **auth(raw)).status_code == 200
    key.enabled = False
    key.save()
    assert_openai_error(client.get("/v1/models", **auth(raw)), 401, "invalid_api_key")


def test_client_keys_are_stored_hashed():
    key, raw = make_client_key()
    with connection.cursor() as cursor:
        cursor.execute("SELECT * FROM imagegen_clientkey")
        row = cursor.fetchone()
    assert raw not in [str(value) for value in row]


def test_the_model_list_has_enabled_image_models_with_their_vendor(client):
    vendor = make_vendor(name="sf")
    make_model(vendor, name="flux-schnell")
    make_model(vendor, name="kolors", enabled=False)
    make_vendor(name="optimizer", kind="openai_chat")
    off = make_vendor(name="off", enabled=False)
    make_model(off, name="hidden")
    response = client.get("/v1/models", **auth())
    assert response.status_code == 200
    body = response.json()
    assert body["object"] == "list"
    assert [(m["id"], m["object"], m["owned_by"]) for m in body["data"]] == [("flux-schnell", "model", "sf")]
    assert isinstance(body["data"][0]["created"], int)


def test_an_unknown_model_is_a_404_listing_the_available_ones(client):
    make_model(make_vendor(), name="flux-schnell")
    body = {"model": "nope", "messages": [{"role": "user", "content": "a cat"}]}
    error = assert_openai_error(post_chat(client, body, **auth()), 404, "model_not_found")
    assert "flux-schnell" in error["message"] and error["param"] == "model"


@pytest.mark.parametrize(
    ("body", "param"),
    [
        ({"messages": [{"role": "user", "content": "a cat"}]}, "model"),
        ({"model": "m"}, "messages"),
        ({"model": "m", "messages": []}, "messages"),
        ({"model": "m", "messages": [{"role": "user", "content": 42}]}, "messages.0.content"),
        ({"model": "m", "messages": [{"role": "user", "content": "   "}]}, "messages"),
        ({"model": "m", "messages": [{"role": "robot", "content": "hi"}]}, "messages.0.role"),
        ({"model": "m", "messages": "a cat"}, "messages"),
        ({"model": 7, "messages": [{"role": "user", "content": "a cat"}]}, "model"),
        # "false" is no boolean: read as one, it would have asked for the usage chunk.
        (
            {
                "model": "m",
                "messages": [{"role": "user", "content": "a cat"}],
                "stream_options": {"include_usage": "false"},
            },
            "stream_options.include_usage",
        ),
    ],
)
def test_malformed_bodies_get_a_400_naming_the_field(client, body, param):
    error = assert_openai_error(post_chat(client, body, **auth()), 400, "invalid_request")
    assert error["param"] == param
    assert error["type"] == "invalid_request_error"


def test_malformed_json_is_a_400(client):
    assert_openai_error(post_chat(client, "{not json", **auth()), 400, "invalid_json")


def test_a_json_array_body_is_a_400(client):
    assert_openai_error(post_chat(client, "[1, 2]", **auth()), 400, "invalid_request")


def test_an_oversized_body_is_a_413(client, settings):
    settings.DATA_UPLOAD_MAX_MEMORY_SIZE = 1000
    body = {"model": "m", "messages": [{"role": "user", "content": "x" * 5000}]}
    assert_openai_error(post_chat(client, body, **auth()), 413, "request_too_large")


def test_an_unknown_path_is_an_openai_shaped_404(client):
    assert_openai_error(client.get("/v1/nothing-here", **auth()), 404, "not_found")


def test_a_wrong_method_is_an_openai_shaped_405(client):
    response = client.get("/v1/chat/completions", **auth())
    assert_openai_error(response, 405, "method_not_allowed")
    assert response["Allow"] == "POST"


def test_health_answers_without_auth_naming_each_check(client):
    response = client.get("/health")
    checks = {"database": "ok", "cache": "ok", "storage": "ok"}
    assert (response.status_code, response.json()) == (200, {"status": "ok", "checks": checks})
    assert client.get("/v1/health").json() == {"status": "ok", "checks": checks}


def test_health_says_unavailable_naming_the_database_when_it_does_not_answer(client, monkeypatch):
    from imagegen.api import dependencies

    def broken():
        raise OSError("connection refused")

    monkeypatch.setattr(dependencies, "database_answers", broken)
    response = client.get("/health")
    assert response.status_code == 503
    assert response.json() == {
        "status": "unavailable",
        "checks": {"database": "unreachable", "cache": "ok", "storage": "ok"},
    }


def test_an_unhandled_error_is_a_generic_logged_500(client, monkeypatch, caplog):
    from imagegen import pipeline

    async def explode(request):
        raise RuntimeError("secret internals")

    async def any_model(name, caller=None):
        return make_route(name)

    monkeypatch.setattr(pipeline, "resolve_route", any_model)
    monkeypatch.setattr(pipeline, "generate", explode)
    body = {"model": "m", "messages": [{"role": "user", "content": "a cat"}]}
    error = assert_openai_error(post_chat(client, body, **auth()), 500, "internal_error")
    assert "secret internals" not in error["message"]
    assert "secret internals" in caplog.text
