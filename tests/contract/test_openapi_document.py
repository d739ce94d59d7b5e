"""The published contract, GET /v1/openapi.json: valid OpenAPI 3, and covering every endpoint."""

from __future__ import annotations

import re

import pytest
from django.urls import URLPattern, get_resolver
from openapi_spec_validator import validate

from imagegen.api.errors import MethodNotAllowed

pytestmark = pytest.mark.django_db(transaction=True)

JSON_ERROR_FIELDS = {"message", "type", "param", "code"}


@pytest.fixture
def document(client):
    response = client.get("/v1/openapi.json")
    assert response.status_code == 200
    assert response["Content-Type"] == "application/json"
    return response.json()


def documented_path(pattern: str) -> str:
    """A Django route as OpenAPI writes it: images/<str:token>.<str:ext> -> /images/{token}.{ext}."""
    return "/" + re.sub(r"<(?:\w+:)?(\w+)>", r"{\1}", pattern)


def served_paths() -> list[str]:
    return [
        documented_path(str(entry.pattern))
        for entry in get_resolver().url_patterns
        if isinstance(entry, URLPattern)  # the admin is an include(), not part of the API
    ]


def test_the_document_is_valid_openapi_3_and_needs_no_key(document):
    validate(document)
    assert document["openapi"].startswith("3.")


# Served, but not part of the API the document describes, each for its reason.
NOT_DOCUMENTED = {
    "/metrics": "Prometheus' text format for the operator's scraper (METRICS_TOKEN), not the OpenAI-compatible API",
}


def test_every_url_pattern_but_the_admin_is_documented(document):
    paths = served_paths()
    assert "/v1/chat/completions" in paths and "/images/{token}.{ext}" in paths and "/health/ready" in paths
    assert set(NOT_DOCUMENTED) <= set(paths)
    assert sorted(set(paths) - set(document["paths"]) - set(NOT_DOCUMENTED)) == []
    assert not set(NOT_DOCUMENTED) & set(document["paths"])
    for path, operations in document["paths"].items():
        for method, operation in operations.items():
            # Declared, not guessed by drf-spectacular: a guessed operation lists no error.
            assert "500" in operation["responses"], f"{method.upper()} {path} declares no errors"


def test_generation_endpoints_list_every_error_status_with_openais_error_shape(document):
    error = document["components"]["schemas"]["ErrorDetail"]
    assert set(error["properties"]) == JSON_ERROR_FIELDS and set(error["required"]) == JSON_ERROR_FIELDS
    for path in ("/v1/chat/completions", "/v1/images/generations"):
        responses = document["paths"][path]["post"]["responses"]
        statuses = {"200", "400", "401", "404", "413", "415", "429", "431", "500", "502", "503", "504"}
        assert statuses <= set(responses), path
        for status, response in responses.items():
            if status != "200":
                assert response["content"]["application/json"]["schema"] == {"$ref": "#/components/schemas/Error"}
        assert responses["429"]["headers"]["Retry-After"]["required"] is True
        assert "monthly budget" in responses["429"]["description"]


def test_requests_are_described_field_by_field_with_bearer_auth(document):
    chat = document["paths"]["/v1/chat/completions"]["post"]
    assert chat["security"] == [{"bearer": []}]
    assert document["components"]["securitySchemes"]["bearer"] == {
        "type": "http",
        "scheme": "bearer",
        "description": "A client key (AUTHORIZED_API_KEY or one made in admin).",
    }
    assert set(chat["responses"]["200"]["content"]) == {"application/json", "text/event-stream"}
    body = document["components"]["schemas"]["ChatCompletionRequest"]
    assert {"model", "messages", "stream", "stream_options", "size", "n", "user"} <= set(body["properties"])
    assert set(body["required"]) == {"model", "messages"}
    assert document["components"]["schemas"]["ResponseFormatEnum"]["enum"] == ["url", "b64_json"]
    assert "security" not in document["paths"]["/health"]["get"]


def test_only_get_is_served(client):
    response = client.post("/v1/openapi.json", data="{}", content_type="application/json")
    assert response.status_code == 405
    assert response.json()["error"]["code"] == MethodNotAllowed.code
    assert response["Allow"] == "GET"


def test_a_host_the_gateway_does_not_serve_is_refused(client, settings):
    settings.ALLOWED_HOSTS = ["img.example.com"]
    response = client.get("/v1/openapi.json", HTTP_HOST="evil.example.net")
    assert response.status_code == 400
    assert response.json()["error"]["code"] == "invalid_host"
