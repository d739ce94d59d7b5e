"""Admin logins lock out after repeated wrong passwords (django-axes), per username and client address,
in the database: every worker and both database engines see the same count."""

import re
import time
from datetime import timedelta

import httpx
import pytest
from django.contrib.auth import get_user_model

from tests.gateway_process import GatewayProcess

pytestmark = pytest.mark.django_db(transaction=True)

PASSWORD = "the-right-horse-battery-staple"
HERE, ELSEWHERE = "203.0.113.10", "198.51.100.20"


@pytest.fixture
def admin_user(settings):
    # A fast hasher: these tests try dozens of passwords, and what they test is the counting.
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
    return get_user_model().objects.create_superuser("root", "root@example.com", PASSWORD)


def log_in(client, password, address=HERE, username="root"):
    return client.post("/admin/login/?next=/admin/", {"username": username, "password": password}, REMOTE_ADDR=address)


def logged_in(response) -> bool:
    return response.status_code == 302 and response["Location"] == "/admin/"


def locked_out(response) -> bool:
    return response.status_code == 429


def test_the_sixth_wrong_password_is_locked_out_and_then_even_the_right_one_from_there(client, admin_user):
    answers = [log_in(client, f"guess-{attempt}") for attempt in range(6)]
    assert [response.status_code for response in answers[:5]] == [200] * 5  # the form again, with its error
    assert locked_out(answers[5])
    assert locked_out(log_in(client, PASSWORD))
    assert "_auth_user_id" not in client.session


def test_the_right_password_from_elsewhere_still_works_during_a_lockout(client, admin_user):
    for attempt in range(6):
        log_in(client, f"guess-{attempt}")
    assert logged_in(log_in(client, PASSWORD, address=ELSEWHERE))


def test_a_lockout_is_per_username(client, admin_user):
    get_user_model().objects.create_superuser("ops", "ops@example.com", PASSWORD)
    for attempt in range(6):
        log_in(client, f"guess-{attempt}")
    assert logged_in(log_in(client, PASSWORD, username="ops"))


def test_five_wrong_passwords_still_let_the_right_one_in_and_reset_the_count(client, admin_user):
    for attempt in range(5):
        assert not locked_out(log_in(client, f"guess-{attempt}"))
    assert logged_in(log_in(client, PASSWORD))
    client.logout()
    assert not any(locked_out(log_in(client, f"again-{attempt}")) for attempt in range(5))


def test_the_lockout_ends_after_the_cool_off(client, admin_user, settings):
    settings.AXES_COOLOFF_TIME = timedelta(seconds=1)
    for attempt in range(6):
        log_in(client, f"guess-{attempt}")
    assert locked_out(log_in(client, PASSWORD))
    time.sleep(1.1)
    assert logged_in(log_in(client, PASSWORD))


def test_a_forwarded_for_header_does_not_change_the_address_counted(client, admin_user):
    for attempt in range(6):
        client.post(
            "/admin/login/?next=/admin/",
            {"username": "root", "password": f"guess-{attempt}"},
            REMOTE_ADDR=HERE,
            HTTP_X_FORWARDED_FOR=f"192.0.2.{attempt}",
        )
    assert locked_out(log_in(client, PASSWORD))


# --- on the real server: the admin's full middleware stack under ASGI, two loopback addresses -------


@pytest.fixture(scope="module")
def gateway(tmp_path_factory):
    env = {"DJANGO_SUPERUSER_USERNAME": "root", "DJANGO_SUPERUSER_PASSWORD": PASSWORD}
    with GatewayProcess(tmp_path_factory.mktemp("admin-lockout"), env) as process:
        assert process.manage("ensure_superuser").returncode == 0
        yield process


def browser(gateway, address: str) -> httpx.Client:
    return httpx.Client(base_url=gateway.url, transport=httpx.HTTPTransport(local_address=address), timeout=30)


def log_in_over_http(client: httpx.Client, password: str) -> httpx.Response:
    form = client.get("/admin/login/")
    token = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', form.text)[1]
    fields = {"username": "root", "password": password, "csrfmiddlewaretoken": token}
    return client.post("/admin/login/?next=/admin/", data=fields)


@pytest.mark.e2e
def test_over_http_the_sixth_wrong_password_locks_out_that_address_only(gateway):
    with browser(gateway, "127.0.0.2") as attacker, browser(gateway, "127.0.0.1") as operator:
        answers = [log_in_over_http(attacker, f"guess-{attempt}").status_code for attempt in range(6)]
        assert answers == [200] * 5 + [429]
        assert log_in_over_http(attacker, PASSWORD).status_code == 429
        response = log_in_over_http(operator, PASSWORD)
        assert (response.status_code, response.headers["Location"]) == (302, "/admin/")
