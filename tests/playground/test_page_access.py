"""Who sees /playground/: staff only; everyone else is sent to sign in, or refused."""

from __future__ import annotations

import re

import pytest

from tests.playground.conftest import browser_for

pytestmark = pytest.mark.django_db(transaction=True)


def test_an_anonymous_visitor_is_sent_to_the_admin_login_and_back(client):
    response = client.get("/playground/")

    assert response.status_code == 302
    assert response["Location"] == "/admin/login/?next=/playground/"


def test_a_signed_in_user_who_is_not_staff_is_refused(non_staff):
    response = browser_for(non_staff).get("/playground/")

    assert response.status_code == 403


def test_staff_get_the_page_with_its_own_scripts_and_no_client_key(staff, settings):
    response = browser_for(staff).get("/playground/")

    page = response.content.decode()
    assert response.status_code == 200
    assert "no-store" in response["Cache-Control"] or "max-age=0" in response["Cache-Control"]
    for script in ("sketch.js", "stream.js", "playground.js", "playground.css"):
        assert f"/static/playground/{script}" in page
    assert not re.search(r'(src|href)="(https?:)?//', page)  # nothing from another host: works offline
    assert "Bearer" not in page and "sk-" not in page
    assert settings.CSRF_COOKIE_NAME in response.cookies  # the API's CSRF check compares the page's token with it


def test_the_admin_header_links_to_the_playground_for_staff(admin_client):
    index = admin_client.get("/admin/").content.decode()

    assert 'href="/playground/" id="playground-link">Playground</a>' in index
    assert '<a href="/admin/">imagegen</a>' in index  # the admin keeps its branding
