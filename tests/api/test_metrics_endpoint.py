"""GET /metrics: who may read it, and what a generation adds to it (in this process; the e2e test adds
up two gunicorn workers)."""

import ipaddress

import pytest
from django.core.cache import cache

from tests.asgi_client import asgi_request, samples, value
from tests.factories import client_key_row, make_key, make_vendor
from vendors.keys import cooldown_key
from vendors.models import VendorKey

pytestmark = pytest.mark.django_db(transaction=True)

CLIENT_KEY = "client-key-for-metrics-0001"
TOKEN = "metrics-token-0123"
SCRAPER = {"Authorization": f"Bearer {TOKEN}"}


@pytest.fixture(autouse=True)
def _settings(settings):
    client_key_row(CLIENT_KEY)
    settings.METRICS_TOKEN = ""
    settings.METRICS_ALLOW_IPS = ()


def scrape() -> dict:
    response = asgi_request("GET", "/metrics", headers=SCRAPER)
    assert response.status_code == 200, response.text
    assert response.headers["Content-Type"].startswith("text/plain; version=0.0.4")
    return samples(response.text)


def test_without_a_token_or_a_network_the_metrics_are_off(settings):
    response = asgi_request("GET", "/metrics", headers=SCRAPER)

    assert response.status_code == 403
    assert response.json()["error"]["code"] == "metrics_not_configured"
    assert response.headers["X-Request-ID"]


def test_the_token_is_checked(settings):
    settings.METRICS_TOKEN = TOKEN

    missing = asgi_request("GET", "/metrics")
    wrong = asgi_request("GET", "/metrics", headers={"Authorization": "Bearer metrics-token-0124"})
    right = asgi_request("GET", "/metrics", headers=SCRAPER)
    posted = asgi_request("POST", "/metrics", headers=SCRAPER)

    for refused in (missing, wrong):
        assert refused.status_code == 401
        assert refused.json()["error"]["code"] == "invalid_api_key"
        assert refused.headers["WWW-Authenticate"] == "Bearer"
        assert TOKEN not in refused.text
    assert right.status_code == 200 and "imagegen_requests_total" in right.text
    assert (posted.status_code, posted.headers["Allow"]) == (405, "GET, HEAD")


def test_an_allowed_network_needs_no_token_and_others_are_refused(settings):
    settings.METRICS_ALLOW_IPS = (ipaddress.ip_network("10.1.0.0/16"),)

    inside = asgi_request("GET", "/metrics", client=("10.1.2.3", 40000))
    outside = asgi_request("GET", "/metrics", client=("10.2.0.1", 40000))
    settings.METRICS_TOKEN = TOKEN
    outside_with_token = asgi_request("GET", "/metrics", client=("10.2.0.1", 40000), headers=SCRAPER)
    outside_without = asgi_request("GET", "/metrics", client=("10.2.0.1", 40000))

    assert inside.status_code == 200
    assert (outside.status_code, outside.json()["error"]["code"]) == (403, "forbidden")
    assert outside_with_token.status_code == 200
    assert outside_without.status_code == 401


def test_a_generation_is_counted_by_endpoint_model_status_stage_vendor_and_bytes(settings, flux):
    settings.METRICS_TOKEN = TOKEN
    before = scrape()

    response = asgi_request(
        "POST",
        "/v1/images/generations",
        json={"model": "flux-schnell", "prompt": "a red fox"},
        headers={"Authorization": f"Bearer {CLIENT_KEY}"},
    )
    unknown = asgi_request(
        "POST",
        "/v1/images/generations",
        json={"model": "no-such-model", "prompt": "a red fox"},
        headers={"Authorization": f"Bearer {CLIENT_KEY}"},
    )
    health = asgi_request("GET", "/health")
    after = scrape()

    def delta(name, **labels):
        return value(after, name, **labels) - value(before, name, **labels)

    assert (response.status_code, unknown.status_code) == (200, 404)
    requests = "imagegen_requests_total"
    assert delta(requests, endpoint="images.generations", model="flux-schnell", status="200") == 1
    assert delta(requests, endpoint="images.generations", model="", status="404") == 1  # a client's name is no label
    assert delta("imagegen_request_duration_seconds_count", endpoint="images.generations") == 2
    for stage in ("optimize", "generate", "fetch", "store"):
        assert delta("imagegen_stage_duration_seconds_count", stage=stage) == 1, stage
    assert delta("imagegen_stage_duration_seconds_count", stage="auth") == 2  # no key to check on /health
    assert delta(requests, endpoint="health", model="", status=str(health.status_code)) == 1
    assert delta("imagegen_vendor_calls_total", vendor="sf", kind="siliconflow", outcome="ok") == 1
    assert delta("imagegen_images_total", model="flux-schnell", vendor="sf") == 1
    assert delta("imagegen_stored_bytes_total", vendor="sf") > 0
    assert value(after, "imagegen_requests_in_flight", endpoint="images.generations") == 0
    assert value(after, "imagegen_requests_in_flight", endpoint="metrics") == 1  # the scrape itself


def test_keys_are_counted_by_state_at_each_scrape(settings):
    settings.METRICS_TOKEN = TOKEN
    vendor = make_vendor(name="census")
    make_key(vendor, "sk-census-active-1111")
    make_key(vendor, "sk-census-active-2222")
    make_key(vendor, "sk-census-off-3333", enabled=False)
    make_key(vendor, "sk-census-dead-4444", status=VendorKey.Status.AUTO_DISABLED)
    resting = make_key(vendor, "sk-census-rest-5555")
    cache.set(cooldown_key(resting.pk), 1e12, timeout=60)
    make_vendor(name="keyless")

    found = scrape()

    states = {"active": 2, "cooling": 1, "auto_disabled": 1, "disabled": 1}
    for state, count in states.items():
        assert value(found, "imagegen_vendor_keys", vendor="census", state=state) == count, state
        assert ("imagegen_vendor_keys", frozenset({"vendor": "keyless", "state": state}.items())) in found


def test_image_cache_lookups_are_counted_as_hits_and_misses(settings, flux):
    settings.METRICS_TOKEN = TOKEN
    flux.image_cache_seconds = 3600
    flux.save()
    body = {"model": "flux-schnell", "prompt": "a grey heron"}
    before = scrape()

    for _ in range(2):
        answer = asgi_request(
            "POST", "/v1/images/generations", json=body, headers={"Authorization": f"Bearer {CLIENT_KEY}"}
        )
        assert answer.status_code == 200
    after = scrape()

    def delta(name, **labels):
        return value(after, name, **labels) - value(before, name, **labels)

    assert delta("imagegen_cache_lookups_total", cache="image", result="miss") == 1
    assert delta("imagegen_cache_lookups_total", cache="image", result="hit") == 1
    assert delta("imagegen_images_total", model="flux-schnell", vendor="cache") == 1
    assert delta("imagegen_vendor_calls_total", vendor="sf", kind="siliconflow", outcome="ok") == 1
