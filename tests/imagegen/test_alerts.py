"""Alerts as an operator gets them: a real fake webhook on 127.0.0.1, a real fake vendor behind the API,
and the Alert rows the admin lists. Every kind, the dedup across workers, the hourly limit, a failing webhook."""

from __future__ import annotations

import asyncio
import json
import logging
from datetime import UTC, datetime, timedelta

import pytest

from core.state import reset_process_state
from imagegen import alert_checks
from imagegen.alerts import Draft, courier, raise_alert
from imagegen.models import Alert, ClientKey, Generation, VendorAttempt
from tests.factories import make_client_key, make_key, make_model, make_vendor
from tests.fakes.siliconflow import SiliconFlowFake
from tests.fakes.webhook import TOKEN, WebhookFake

# The alerts' thread writes its rows on its own connection.
pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.alerts]

GOOD, BAD = "sk-good-key-aaaa1111", "sk-rejected-key-bbbb2222"


@pytest.fixture
def hook(settings):
    with WebhookFake() as fake:
        settings.ALERT_WEBHOOK_URL = fake.hook_url
        yield fake
        assert courier().wait_idle(10)  # nothing of this test's still running when its rows go


@pytest.fixture
def sf():
    with SiliconFlowFake(keys={BAD: "invalid"}) as fake:
        yield fake


def vendor_of(fake, *secrets: str):
    vendor = make_vendor(name="sf", kind="siliconflow", base_url=fake.url + "/v1", timeout=3.0)
    make_model(vendor, name="flux-schnell", upstream_name="black-forest-labs/FLUX.1-schnell")
    for index, secret in enumerate(secrets):
        make_key(vendor, secret, label=f"k{index + 1}")
    return vendor


def chat(client, key: str):
    body = {"model": "flux-schnell", "messages": [{"role": "user", "content": "a kite over the sea"}]}
    headers = {"HTTP_AUTHORIZATION": f"Bearer {key}"}
    return client.post("/v1/chat/completions", data=json.dumps(body), content_type="application/json", **headers)


@pytest.fixture
def ask(client):
    """A chat request with a client key row of its own."""
    raw = make_client_key("ops")[1]
    return lambda: chat(client, raw)


def settled() -> list[Alert]:
    assert courier().wait_idle(10)
    return list(Alert.objects.order_by("id"))


def assert_clean(text: str, fake) -> None:
    """No key, no vendor URL or address, no webhook token in what an alert says."""
    for secret in (GOOD, BAD, fake.url, "127.0.0.1", TOKEN):
        assert secret not in text


def test_a_rejected_key_is_announced_and_the_request_is_served_by_the_next(ask, sf, hook):
    vendor_of(sf, GOOD, BAD)  # the rotation's first request starts at the second key

    assert ask().status_code == 200

    alerts = settled()
    assert [(a.kind, a.subject, a.delivered) for a in alerts] == [("key_auto_disabled", "sf / k2", True)]
    assert "key 'k2' of vendor 'sf' was auto-disabled (upstream_key_rejected" in hook.texts()[0]
    assert hook.posts()[0]["kind"] == "key_auto_disabled"
    assert_clean(json.dumps(hook.posts()) + alerts[0].text, sf)


def test_the_last_key_dying_leaves_the_model_without_a_key_said_once(ask, sf, hook):
    vendor_of(sf, BAD)

    assert ask().status_code == 502

    kinds = sorted((alert.kind, alert.subject) for alert in settled())
    assert kinds == [("key_auto_disabled", "sf / k1"), ("model_no_key", "flux-schnell")]
    (model_alert,) = [text for text in hook.texts() if "model 'flux-schnell'" in text]
    assert "has no usable key: vendor 'sf' has no enabled key left that is not auto-disabled" in model_alert
    assert ask().json()["error"]["code"] == "no_available_key"
    assert ask().json()["error"]["code"] == "no_available_key"
    assert len(settled()) == 2 and len(hook.posts()) == 2  # the model's alert again: not sent twice


def test_every_key_resting_after_a_429_leaves_the_model_without_a_key(ask, sf, hook):
    vendor_of(sf, GOOD)
    sf.default_behaviour = "rate_limited"
    assert ask().status_code == 502  # the one key now rests

    assert ask().json()["error"]["code"] == "no_available_key"

    (alert,) = settled()
    assert (alert.kind, alert.subject) == ("model_no_key", "flux-schnell")
    assert "has no usable key: every key of its vendor is disabled or cooling down" in alert.text


def test_a_vendor_failing_half_its_calls_in_the_window_raises_its_error_rate(ask, sf, hook, settings):
    settings.ALERT_ERROR_RATE_MIN_CALLS, settings.ALERT_ERROR_RATE_THRESHOLD = 4, 0.5
    vendor_of(sf, "sk-one-aaaa1111", "sk-two-bbbb2222")
    assert ask().status_code == 200
    assert settled() == []  # 1 call, no failure
    sf.default_behaviour = "overloaded"

    assert ask().status_code == 502  # 2 more calls, both failed: 2 of 3, under the minimum of calls
    assert settled() == []
    assert ask().status_code == 502  # 4 of 5

    alerts = settled()
    assert [(a.kind, a.subject) for a in alerts] == [("vendor_error_rate", "sf")]
    assert "vendor 'sf' failed 4 of its last 5 calls (80%) in 5 min; the threshold is 50%." in alerts[0].text


def test_calls_outside_the_window_and_the_clients_own_faults_do_not_count(sf, hook, settings):
    settings.ALERT_ERROR_RATE_MIN_CALLS = 2
    vendor = vendor_of(sf, GOOD)
    generation = Generation.objects.create(model="flux-schnell", status="failed")
    long_ago = datetime.now(UTC) - timedelta(seconds=settings.ALERT_ERROR_RATE_WINDOW + 60)
    for outcome, at in [("upstream_unavailable", long_ago)] * 5 + [("content_policy_violation", datetime.now(UTC))] * 3:
        VendorAttempt.objects.create(
            generation=generation, vendor=vendor, vendor_name="sf", model="m", started_at=at, outcome=outcome
        )

    asyncio.run(alert_checks.vendor_error_rate(vendor.id))

    assert settled() == []


def test_a_client_key_is_told_at_80_and_at_100_percent_of_a_quota_once_each(hook):
    until = datetime.now(UTC) + timedelta(hours=3)
    for used in (7, 8, 9, 10, 11):
        alert_checks.quota_used(5, "team-a", "images per day", used, 10, "2026-12-01 UTC", until)

    alerts = settled()
    assert [(a.kind, a.subject) for a in alerts] == [("client_quota", "team-a / images per day")] * 2
    assert sorted(hook.texts()) == [  # sent side by side: in either order
        "imagegen: client key 'team-a' has used 10 of its 10 images per day (100%, 2026-12-01 UTC).",
        "imagegen: client key 'team-a' has used 8 of its 10 images per day (80%, 2026-12-01 UTC).",
    ]


@pytest.mark.skipif(not hasattr(ClientKey, "images_per_day"), reason="needs the client-key limits (images per day)")
def test_a_client_key_with_images_per_day_hears_of_80_percent_from_its_ledger(client, sf, hook):
    vendor_of(sf, GOOD)
    key, raw = make_client_key("team-a")
    key.images_per_day = 5
    key.save()

    for _ in range(4):
        assert chat(client, raw).status_code == 200

    (alert,) = settled()
    assert (alert.kind, alert.subject) == ("client_quota", "team-a / images per day")
    assert alert.text.startswith("imagegen: client key 'team-a' has used 4 of its 5 images per day (80%, ")


def draft(n: int) -> Draft:
    return Draft(kind="vendor_error_rate", subject=f"vendor {n}", text=f"alert number {n}", dedup=f"test:{n}")


def test_the_same_alert_from_another_worker_is_not_sent_again(hook, settings):
    settings.HTTP_TRANSPORT = "aiohttp"  # the production client: the alerts' loop lives on, so does its session
    raise_alert(draft(1))
    courier().close()
    reset_process_state()  # another worker: its own memory, the same shared cache

    raise_alert(draft(1))
    raise_alert(draft(2))

    assert sorted(a.text for a in settled()) == ["alert number 1", "alert number 2"]
    assert sorted(hook.texts()) == ["alert number 1", "alert number 2"]


def test_alerts_past_the_hourly_limit_are_listed_but_not_sent(hook, settings):
    settings.ALERT_MAX_PER_HOUR = 2
    for n in range(4):
        raise_alert(draft(n))

    alerts = settled()

    assert len(hook.posts()) == 2
    assert sorted(a.delivered for a in alerts) == [False, False, True, True]
    limited = "not sent: more than ALERT_MAX_PER_HOUR (2) alerts this hour"
    assert {a.error for a in alerts if not a.delivered} == {limited}


def test_a_failing_webhook_is_recorded_without_its_url(hook, caplog):
    hook.status = 500
    with caplog.at_level(logging.WARNING):
        raise_alert(draft(1))
        (alert,) = settled()

    assert (alert.delivered, alert.error) == (False, "the webhook answered HTTP 500")
    assert TOKEN not in caplog.text and hook.url not in caplog.text
    assert "was not delivered: the webhook answered HTTP 500" in caplog.text


def test_an_unreachable_webhook_is_recorded_and_nothing_waits_for_it(settings):
    settings.ALERT_WEBHOOK_URL = "http://127.0.0.1:9/hooks/" + TOKEN  # discard port: nothing listens

    raise_alert(draft(1))

    (alert,) = settled()
    assert (alert.delivered, alert.error) == (False, "the webhook could not be reached (ConnectError)")


def test_without_a_webhook_alerts_are_listed_in_admin_as_not_sent(admin_client, settings):
    settings.ALERT_WEBHOOK_URL = ""
    raise_alert(draft(1))
    settled()

    page = admin_client.get("/admin/imagegen/alert/").content.decode()

    assert "alert number 1" in page and "not sent: ALERT_WEBHOOK_URL is not set" in page
