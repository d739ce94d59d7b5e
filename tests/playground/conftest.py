"""Staff and non-staff users, a browser-like client that enforces CSRF, and flux-schnell on a SiliconFlow fake."""

from __future__ import annotations

import re

import pytest
from django.contrib.auth import get_user_model
from django.test import Client

from tests.api.conftest import flux, sf  # noqa: F401  (flux-schnell on a SiliconFlow fake, as the API tests have it)

TOKEN_IN_PAGE = re.compile(r'data-csrf-token="([^"]+)"')


@pytest.fixture
def staff():
    return get_user_model().objects.create_user("ada", password="pw-ada-123456", is_staff=True)


@pytest.fixture
def non_staff():
    return get_user_model().objects.create_user("bob", password="pw-bob-123456")


def browser_for(user) -> Client:
    """A client as a browser is: CSRF enforced, signed in as ``user``."""
    browser = Client(enforce_csrf_checks=True)
    browser.force_login(user)
    return browser


def page_token(browser: Client) -> str:
    """The CSRF token the playground page hands its script (its cookie is set by the same answer)."""
    page = browser.get("/playground/")
    assert page.status_code == 200
    return TOKEN_IN_PAGE.search(page.content.decode())[1]
