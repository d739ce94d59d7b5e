"""Keys bounded and fair, and a vendor's words cleaned, as a client of the API meets them: a real fake vendor on
127.0.0.1 behind ``POST /v1/chat/completions``."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime

import pytest
from aiohttp import web

from imagegen.models import Generation
from tests.factories import client_key_row, make_key, make_model, make_vendor
from tests.fakes.siliconflow import SiliconFlowFake
from vendors.models import VendorKey

pytestmark = pytest.mark.django_db(transaction=True)

CLIENT_KEY = "client-key-for-key-tests-0001"
KEYS = ["sk-first-key-aaaa1111", "sk-second-key-bbbb2222", "sk-third-key-cccc3333"]
PROXY_PAGE = (
    "<html><head><title>502 Bad Gateway</title></head><body><h1>502 Bad Gateway</h1>"
    "<p>upstream 10.20.30.40:8080 (gpu-7.svc.cluster.local) refused</p><hr>nginx/1.18.0</body></html>"
)
CHATTY = "Model service overloaded: connect to 10.20.30.40:8080 (gpu-7.svc.cluster.local) failed, see api.vendor.com"


class ProxiedSiliconFlow(SiliconFlowFake):
    """SiliconFlow whose failures can be a proxy's HTML page or words naming its internal machines."""

    def _failure(self, behaviour: str) -> web.Response | None:
        if behaviour == "proxy_page":
            return web.Response(status=502, text=PROXY_PAGE, content_type="text/html")
        if behaviour == "chatty":
            return web.json_response({"code": 50505, "message": CHATTY}, status=503)
        return super()._failure(behaviour)


@pytest.fixture(autouse=True)
def _bootstrap_key(settings):
    client_key_row(CLIENT_KEY)


@pytest.fixture
def sf():
    with ProxiedSiliconFlow() as fake:
        yield fake


def vendor_of(fake, timeout: float = 3.0):
    vendor = make_vendor(name="sf", kind="siliconflow", base_url=fake.url + "/v1", timeout=timeout)
    make_model(vendor, name="flux-schnell", upstream_name="black-forest-labs/FLUX.1-schnell")
    for index, secret in enumerate(KEYS):
        make_key(vendor, secret, label=f"k{index + 1}")
    return vendor


def chat(client):
    body = {"model": "flux-schnell", "messages": [{"role": "user", "content": "a kite over the sea"}]}
    return client.post(
        "/v1/chat/completions",
        data=json.dumps(body),
        content_type="application/json",
        HTTP_AUTHORIZATION=f"Bearer {CLIENT_KEY}",
    )


def test_a_retry_after_of_31_years_rests_every_key_for_the_ceiling_and_the_client_hears_the_ceiling(
    client, sf, settings
):
    settings.KEY_MAX_COOLDOWN = 600
    vendor_of(sf)
    sf.default_behaviour, sf.retry_after = "rate_limited", 999_999_999
    assert chat(client).status_code == 502

    response = chat(client)

    assert (response.status_code, response.json()["error"]["code"]) == (503, "no_available_key")
    assert 590 <= int(response["Retry-After"]) <= 600
    assert len(sf.keys_used()) == 3


def test_a_retry_after_given_as_a_date_rests_the_key_until_then(client, sf):
    vendor_of(sf)
    sf.default_behaviour = "rate_limited"
    sf.retry_after = format_datetime(datetime.now(UTC) + timedelta(seconds=120), usegmt=True)
    assert chat(client).status_code == 502

    response = chat(client)

    assert response.status_code == 503
    assert 110 <= int(response["Retry-After"]) <= 120


def test_a_hanging_key_rests_after_a_few_timeouts_and_no_timed_out_request_is_sent_again(client, sf, settings):
    settings.KEY_FAILURES_BEFORE_COOLDOWN = 2
    vendor_of(sf, timeout=0.5)
    sf.keys, sf.slow_seconds = {KEYS[0]: "slow"}, 2.0

    statuses = [chat(client).status_code for _ in range(10)]  # k1's turn comes at least three times

    assert statuses.count(504) == 2
    second_timeout = len(statuses) - 1 - statuses[::-1].index(504)
    assert set(statuses[second_timeout + 1 :]) == {200}
    assert sf.keys_used().count(KEYS[0]) == 2  # two timeouts in a row, then it rests: its third turn is skipped
    assert len(sf.keys_used()) == 10  # one call per request: a timed-out request never went to another key
    hung = VendorKey.objects.get(label="k1")
    assert (hung.status, hung.failure_count) == (VendorKey.Status.COOLING, 2)
    assert hung.last_error.startswith("upstream_timeout: ")


def test_a_proxys_error_page_reaches_the_client_as_its_headline(client, sf):
    vendor_of(sf)
    sf.default_behaviour = "proxy_page"

    error = chat(client).json()["error"]

    assert "502 Bad Gateway" in error["message"]
    assert "<" not in error["message"] and "10.20.30.40" not in error["message"] and "nginx" not in error["message"]


def test_the_client_reads_no_address_or_host_name_while_the_operator_reads_them_on_the_key(client, sf):
    vendor_of(sf)
    sf.default_behaviour = "chatty"

    error = chat(client).json()["error"]

    assert "Model service overloaded: connect to [address] ([host]) failed, see [host]" in error["message"]
    assert "10.20.30.40" not in error["message"] and "cluster.local" not in error["message"]
    assert "api.vendor.com" not in error["message"]
    assert CHATTY in Generation.objects.get().error_message  # the ledger is the operator's
    for key in VendorKey.objects.all():
        assert key.last_error == f"upstream_unavailable: {CHATTY}"
