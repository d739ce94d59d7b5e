"""Wrong and missing client keys are throttled per client address, through the shared cache."""

import time

import pytest

from tests.factories import client_key_row, make_client_key, make_model, make_vendor

pytestmark = pytest.mark.django_db(transaction=True)

CLIENT_KEY = "client-key-for-throttle-0001"
ATTACKER, NEIGHBOUR, OTHER = "203.0.113.66", "198.51.100.7", "192.0.2.44"
LIMIT = 5


@pytest.fixture(autouse=True)
def _configured(settings):
    client_key_row(CLIENT_KEY)
    settings.CLIENT_AUTH_FAILURE_LIMIT = LIMIT
    settings.CLIENT_AUTH_FAILURE_WINDOW = 60
    make_model(make_vendor(), name="flux-schnell")


def models(client, key=None, address=ATTACKER):
    headers = {"HTTP_AUTHORIZATION": f"Bearer {key}"} if key is not None else {}
    return client.get("/v1/models", REMOTE_ADDR=address, **headers)


def fail_until_throttled(client, address=ATTACKER):
    for attempt in range(LIMIT):
        assert models(client, f"sk-guess-{attempt:04d}", address).status_code == 401
    return models(client, "sk-guess-one-more", address)


def assert_throttled(response):
    assert response.status_code == 429, response.content
    error = response.json()["error"]
    assert (error["code"], error["type"]) == ("rate_limit_exceeded", "rate_limit_error")
    assert 1 <= int(response["Retry-After"]) <= 60
    return error


def test_after_the_limit_of_wrong_keys_the_address_gets_429_with_retry_after(client):
    error = assert_throttled(fail_until_throttled(client))
    assert "sk-guess" not in error["message"]
    assert_throttled(models(client, "sk-another-guess"))


def test_missing_keys_count_and_are_refused_too(client):
    for _ in range(LIMIT):
        assert models(client).status_code == 401
    assert_throttled(models(client))
    assert_throttled(models(client, "sk-wrong"))


def test_a_good_key_from_another_address_is_unaffected(client):
    assert_throttled(fail_until_throttled(client))
    assert models(client, CLIENT_KEY, address=OTHER).status_code == 200
    assert models(client, "sk-wrong", address=OTHER).status_code == 401


def test_a_key_that_already_worked_from_the_address_keeps_working_there(client):
    assert models(client, CLIENT_KEY, address=NEIGHBOUR).status_code == 200
    assert_throttled(fail_until_throttled(client, address=NEIGHBOUR))  # a misconfigured second app
    for _ in range(3):
        assert models(client, CLIENT_KEY, address=NEIGHBOUR).status_code == 200


def test_a_throttled_address_learns_nothing_about_a_valid_key_it_has_not_used(client):
    _, fresh_key = make_client_key("another app")
    assert_throttled(fail_until_throttled(client))
    wrong, valid = models(client, "sk-wrong-key-zzzz"), models(client, fresh_key)
    assert_throttled(wrong)
    assert_throttled(valid)
    assert wrong.json() == valid.json()


def test_a_key_noted_as_working_is_refused_once_disabled(client):
    key, raw = make_client_key("revoked app")
    assert models(client, raw).status_code == 200
    key.enabled = False
    key.save()
    assert models(client, raw).status_code == 401


def test_an_ipv6_host_is_counted_with_its_whole_64(client):
    for attempt in range(LIMIT):
        assert models(client, "sk-wrong", address=f"2001:db8:1:2::{attempt + 1:x}").status_code == 401
    assert_throttled(models(client, "sk-wrong", address="2001:db8:1:2:ffff::9"))
    assert models(client, "sk-wrong", address="2001:db8:1:3::1").status_code == 401


def test_the_address_is_let_in_again_when_the_window_ends(client, settings):
    settings.CLIENT_AUTH_FAILURE_WINDOW = 2
    time.sleep(2.01 - time.time() % 2)  # windows follow the clock: start at the top of one
    response = fail_until_throttled(client)
    assert_throttled(response)
    time.sleep(int(response["Retry-After"]) + 0.05)
    assert models(client, "sk-wrong").status_code == 401


def test_the_health_check_is_never_throttled(client):
    assert_throttled(fail_until_throttled(client))
    assert client.get("/health", REMOTE_ADDR=ATTACKER).status_code == 200
