"""The API with a staff member's session instead of a client key: what the playground page does.

Accepted only for staff, with the page's CSRF token, from this origin; then it runs as the staff
member's own client key row, so the ledger names them and the row's limits apply."""

from __future__ import annotations

import json

import pytest

from imagegen.models import ClientKey, Generation
from playground.models import PlaygroundKey
from tests.asgi_client import asgi_request
from tests.playground.conftest import browser_for, page_token

pytestmark = pytest.mark.django_db(transaction=True)


def chat(browser, token: str | None, **headers):
    body = {"model": "flux-schnell", "messages": [{"role": "user", "content": "a red fox 16:9"}]}
    if token is not None:
        headers["HTTP_X_CSRFTOKEN"] = token
    return browser.post("/v1/chat/completions", json.dumps(body), content_type="application/json", **headers)


def test_staff_generate_with_the_session_and_the_pages_token_under_their_own_key(staff, flux, sf):
    browser = browser_for(staff)

    response = chat(browser, page_token(browser))

    assert response.status_code == 200, response.content
    assert "![image](" in response.json()["choices"][0]["message"]["content"]
    assert len(sf.keys_used()) == 1
    row = Generation.objects.get()
    key = PlaygroundKey.objects.get(user=staff).client_key
    assert (row.client_key_id, row.client_label) == (key.pk, "Playground: ada")
    assert key.last_used_at is not None


def test_the_same_key_row_serves_every_later_request(staff, flux):
    browser = browser_for(staff)
    token = page_token(browser)

    assert chat(browser, token).status_code == 200
    assert chat(browser, token).status_code == 200

    assert ClientKey.objects.filter(name="Playground: ada").count() == 1
    assert Generation.objects.values("client_key").distinct().count() == 1


def test_without_the_csrf_token_nothing_is_generated(staff, flux, sf):
    browser = browser_for(staff)
    page_token(browser)  # the cookie alone is what another site's form could make a browser send

    response = chat(browser, None)

    assert response.status_code == 403
    error = response.json()["error"]
    assert error["message"].startswith("CSRF check failed") and error["code"] == "permission_denied"
    assert sf.keys_used() == [] and not Generation.objects.exists()


def test_a_request_from_another_origin_is_refused_even_with_the_token(staff, flux, sf):
    browser = browser_for(staff)
    token = page_token(browser)

    from_elsewhere = chat(browser, token, HTTP_ORIGIN="https://evil.example")
    cross_site = chat(browser, token, HTTP_SEC_FETCH_SITE="cross-site")

    assert from_elsewhere.status_code == 403 and "CSRF" in from_elsewhere.json()["error"]["message"]
    assert cross_site.status_code == 403
    assert "only from pages of this site" in cross_site.json()["error"]["message"]
    assert sf.keys_used() == []


def test_a_same_origin_request_as_a_browser_sends_it_passes(staff, flux):
    browser = browser_for(staff)
    token = page_token(browser)

    response = chat(browser, token, HTTP_ORIGIN="http://testserver", HTTP_SEC_FETCH_SITE="same-origin")

    assert response.status_code == 200, response.content


def test_a_user_who_is_not_staff_cannot_use_a_session(non_staff, flux, sf):
    browser = browser_for(non_staff)
    browser.get("/admin/login/")  # a page that sets the CSRF cookie
    token = browser.cookies["csrftoken"].value

    response = chat(browser, token)
    models = browser.get("/v1/models")

    assert response.status_code == 403 and models.status_code == 403
    assert "Only staff" in response.json()["error"]["message"]
    assert sf.keys_used() == [] and not ClientKey.objects.exists()


def test_staff_read_the_model_list_with_the_session(staff, flux):
    models = browser_for(staff).get("/v1/models")

    assert models.status_code == 200
    assert [model["id"] for model in models.json()["data"]] == ["flux-schnell"]


def test_a_client_key_in_the_request_wins_over_the_session(staff, flux, sf):
    browser = browser_for(staff)
    token = page_token(browser)

    response = chat(browser, token, HTTP_AUTHORIZATION="Bearer not-a-key-of-this-gateway")

    assert response.status_code == 401
    assert sf.keys_used() == []


def test_the_staff_members_key_row_carries_the_limits_and_can_be_disabled(staff, flux, sf):
    browser = browser_for(staff)
    token = page_token(browser)
    assert chat(browser, token).status_code == 200
    key = ClientKey.objects.get(name="Playground: ada")

    ClientKey.objects.filter(pk=key.pk).update(images_per_day=0)
    over_the_day = chat(browser, token)
    ClientKey.objects.filter(pk=key.pk).update(enabled=False)
    disabled = chat(browser, token)

    assert over_the_day.status_code == 429 and over_the_day.json()["error"]["code"] == "insufficient_quota"
    assert disabled.status_code == 403
    assert "'Playground: ada' is disabled" in disabled.json()["error"]["message"]
    assert len(sf.keys_used()) == 1


def test_an_anonymous_session_is_not_a_caller(client, flux):
    client.get("/playground/")  # a session cookie may exist without anyone signed in

    response = client.post("/v1/chat/completions", "{}", content_type="application/json")

    assert response.status_code == 401


def test_the_session_is_read_on_the_apis_own_path_without_djangos_middleware(staff, flux, sf):
    """The API's paths skip Django's middleware (imagegen.asgi): the sign-in opens the session itself."""
    browser = browser_for(staff)
    token = page_token(browser)
    cookie = {"Cookie": "; ".join(f"{name}={morsel.value}" for name, morsel in browser.cookies.items())}
    body = {"model": "flux-schnell", "messages": [{"role": "user", "content": "a heron"}]}

    models = asgi_request("GET", "/v1/models", headers=cookie)
    refused = asgi_request("POST", "/v1/chat/completions", json=body, headers=cookie)
    answered = asgi_request("POST", "/v1/chat/completions", json=body, headers={**cookie, "X-CSRFToken": token})

    assert models.status_code == 200 and models.json()["data"][0]["id"] == "flux-schnell"
    assert refused.status_code == 403 and "CSRF" in refused.json()["error"]["message"]
    assert answered.status_code == 200, answered.text
    assert len(sf.keys_used()) == 1
