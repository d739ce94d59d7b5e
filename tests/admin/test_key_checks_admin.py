"""The admin's key checks against a fake vendor: "Test key" (free) and the paid test generation behind its
confirmation page."""

from __future__ import annotations

from html import unescape

import pytest
from django.urls import reverse

from tests.factories import make_key, make_model, make_vendor
from tests.fakes.siliconflow import SiliconFlowFake
from vendors.models import VendorKey

pytestmark = pytest.mark.django_db

GOOD, BAD = "sk-good-key-00000000000001", "sk-bad-key-000000000000002"
KEYS_URL = reverse("admin:vendors_vendorkey_changelist")


@pytest.fixture
def fake():
    with SiliconFlowFake(keys={BAD: "invalid"}) as server:
        yield server


@pytest.fixture
def vendor(fake):
    vendor = make_vendor("sf", base_url=fake.url + "/v1")
    make_model(vendor, "flux", upstream_name="black-forest-labs/FLUX.1-schnell", default_size="512x512")
    return vendor


def text(response) -> str:
    return unescape(response.content.decode())


def test_test_key_shows_each_verdict_with_its_latency_and_answer_and_changes_nothing(admin_client, fake, vendor):
    good = make_key(vendor, GOOD, "good", status=VendorKey.Status.AUTO_DISABLED)
    bad = make_key(vendor, BAD, "bad")

    response = admin_client.post(KEYS_URL, {"action": "test_keys", "_selected_action": [good.pk, bad.pk]}, follow=True)

    page = text(response)
    assert "Test key: sf good: passed in " in page and " ms (HTTP 200): balance 12.88, normal." in page
    assert "It is still auto-disabled" in page
    assert "Test key: sf bad: refused in " in page and "(HTTP 401): Invalid token" in page
    assert GOOD not in page and BAD not in page and fake.url not in page
    assert {request.path for request in fake.requests} == {"/v1/user/info"}
    good.refresh_from_db(), bad.refresh_from_db()
    assert good.status == VendorKey.Status.AUTO_DISABLED and bad.status == VendorKey.Status.ACTIVE


def test_the_vendor_page_has_a_test_button_per_key_that_comes_back_to_it(admin_client, fake, vendor):
    key = make_key(vendor, GOOD, "main")
    vendor_url = reverse("admin:vendors_vendor_change", args=[vendor.pk])
    test_url = reverse("admin:vendors_vendorkey_test", args=[key.pk])
    key_url = reverse("admin:vendors_vendorkey_change", args=[key.pk])

    for page in (text(admin_client.get(vendor_url)), text(admin_client.get(key_url))):
        # The button posts a form of its own, after the page's: Enter in the page still saves it.
        assert f'form="key-test" formaction="{test_url}"' in page
        assert page.index('<form id="key-test" method="post">') > page.index('type="submit" value="Save"')
    assert admin_client.get(test_url).status_code == 405

    response = admin_client.post(test_url, HTTP_REFERER="http://testserver" + vendor_url)

    assert response.status_code == 302 and response["Location"] == "http://testserver" + vendor_url
    assert "Test key: sf main: passed" in text(admin_client.get(vendor_url))
    elsewhere = admin_client.post(test_url, HTTP_REFERER="https://evil.example/")
    assert elsewhere["Location"] == key_url


def test_a_paid_test_asks_first_then_generates_one_image_with_that_key(admin_client, fake, vendor):
    make_key(vendor, "sk-other-key-0000000000003", "other")
    key = make_key(vendor, GOOD, "main")
    chosen = {"action": "paid_test_generation", "_selected_action": [key.pk]}

    confirm = admin_client.post(KEYS_URL, chosen)

    assert confirm.status_code == 200 and "This costs money." in text(confirm)
    assert ">flux<" in text(confirm) and fake.requests == []

    model = vendor.models.get()
    response = admin_client.post(
        KEYS_URL, {**chosen, "confirm": "yes", "model": model.pk, "prompt": "a cube"}, follow=True
    )

    page = text(response)
    assert "Paid test of sf main with flux: made an image in " in page and "1 image(s), the first as a URL" in page
    [call] = fake.requests
    assert call.path == "/v1/images/generations" and call.headers["Authorization"] == f"Bearer {GOOD}"
    assert call.json["prompt"] == "a cube" and call.json["image_size"] == "512x512"
    assert GOOD not in page


def test_a_paid_test_is_one_key_at_a_time_and_says_why_it_failed(admin_client, fake, vendor):
    keys = [make_key(vendor, GOOD, "main"), make_key(vendor, BAD, "bad")]

    both = admin_client.post(
        KEYS_URL, {"action": "paid_test_generation", "_selected_action": [k.pk for k in keys]}, follow=True
    )
    model = vendor.models.get()
    failed = admin_client.post(
        KEYS_URL,
        {"action": "paid_test_generation", "_selected_action": [keys[1].pk], "confirm": "yes", "model": model.pk},
        follow=True,
    )

    assert "one key at a time" in text(both)
    assert "Paid test of sf bad with flux: failed in " in text(failed) and "upstream_key_rejected" in text(failed)
    assert BAD not in text(failed)
