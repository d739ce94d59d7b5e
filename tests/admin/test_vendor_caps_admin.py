"""The vendor page edits the caps: saved as given, empty for none, zero refused."""

import pytest
from django.urls import reverse

from tests.admin.test_vendor_admin import add_url, page_text, vendor_post
from vendors.models import Vendor

pytestmark = pytest.mark.django_db


def test_the_vendor_page_saves_its_caps_and_leaves_empty_ones_uncapped(admin_client):
    page = page_text(admin_client.get(add_url()))
    assert "Requests per minute" in page and "Concurrent calls" in page

    response = admin_client.post(add_url(), {**vendor_post(name="bfl"), "max_concurrent_calls": "24"})

    assert response.status_code == 302
    vendor = Vendor.objects.get(name="bfl")
    assert (vendor.max_concurrent_calls, vendor.requests_per_minute) == (24, None)
    listing = page_text(admin_client.get(reverse("admin:vendors_vendor_changelist")))
    assert "Concurrent calls" in listing and '<td class="field-max_concurrent_calls">24</td>' in listing


def test_a_cap_of_zero_is_refused(admin_client):
    response = admin_client.post(add_url(), {**vendor_post(name="bfl"), "requests_per_minute": "0"})

    assert response.status_code == 200
    assert "Ensure this value is greater than or equal to 1." in page_text(response)
    assert not Vendor.objects.exists()
