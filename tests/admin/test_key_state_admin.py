"""The admin shows each key's state in words and colour, the operator's switch and the gateway's verdict apart,
each key's history of changes, and each vendor's key health; the evidence fields are edited on the vendor page."""

import re
from datetime import timedelta

import pytest
from django.urls import reverse
from django.utils import timezone

from tests.admin.test_vendor_admin import add_url, make_vendor, page_text, vendor_post
from vendors import errors, key_state
from vendors.admin_keys import COLOURS
from vendors.key_evidence import Verdict
from vendors.models import Vendor, VendorKey

pytestmark = pytest.mark.django_db
Status = VendorKey.Status


def words(response) -> str:
    """The page's text with the tags inside a key's state taken out (its colour is checked apart)."""
    return re.sub(r"</?b>", "", page_text(response))


def keys_in_every_state():
    """Keys a..e of one vendor: active, suspect, cooling for 10 minutes, auto-disabled, switched off."""
    vendor = make_vendor(name="acme", keys=[f"sk-acme-{n}-secret-000{n}" for n in range(5)])
    rows = list(vendor.keys.order_by("id"))
    for row, label in zip(rows, "abcde", strict=True):
        row.label = label
        row.save()
    fail = {"b": errors.UpstreamUnavailable, "c": errors.RateLimited, "d": errors.KeyRejected}
    until = timezone.now() + timedelta(minutes=10)
    verdicts = {
        "b": Verdict(Status.SUSPECT, "failed (upstream_unavailable: 503 overloaded)"),
        "c": Verdict(Status.COOLING, "rate limited (upstream_rate_limited: slow down)", until),
        "d": Verdict(Status.AUTO_DISABLED, "rejected at once (upstream_key_rejected: Invalid token)"),
    }
    for row in rows:
        if row.label in verdicts:
            key_state.record_failure(row.pk, fail[row.label]("said no", detail="said no"), verdicts[row.label])
    switched_off = rows[4]
    switched_off.enabled = False
    switched_off.save()
    return vendor, until


def test_the_key_list_shows_one_state_in_words_and_colour_with_switch_and_verdict_apart(admin_client):
    _, until = keys_in_every_state()
    VendorKey.objects.filter(label="e").update(status=Status.AUTO_DISABLED, status_reason="rejected at once (x)")

    text = words(admin_client.get(reverse("admin:vendors_vendorkey_changelist")))

    assert f'color:{COLOURS["active"]}">● active<' in text
    assert "● suspect: failed (upstream_unavailable: 503 overloaded)" in text
    assert f"● cooling until {timezone.localtime(until):%H:%M}: rate limited (upstream_rate_limited: slow down)" in text
    assert f'color:{COLOURS["auto_disabled"]}">● auto-disabled: rejected at once' in text
    assert "● disabled by the operator<" in text
    # The switched-off key keeps its own verdict in the verdict column; the switch is a column of its own.
    assert "Operator's switch" in text and "Gateway's verdict" in text
    assert text.count('<td class="field-verdict">auto-disabled</td>') == 2
    assert text.count('<td class="field-switch"><img src="/static/admin/img/icon-no.svg" alt="False"></td>') == 1


def test_a_rest_that_has_ended_reads_as_active_before_the_next_call(admin_client):
    vendor = make_vendor(keys=["sk-resting-key-0001"])
    past = timezone.now() - timedelta(seconds=5)
    VendorKey.objects.update(status=Status.COOLING, cooling_until=past, status_reason="rate limited (x)")

    text = words(admin_client.get(reverse("admin:vendors_vendorkey_changelist")))

    assert "● active<" in text and "cooling until" not in text
    assert "1 / 1" in words(admin_client.get(reverse("admin:vendors_vendor_changelist"))), vendor


def test_the_key_page_lists_every_change_of_state_newest_first(admin_client):
    keys_in_every_state()
    key = VendorKey.objects.get(label="d")
    key_state.reinstate(key, "reset by the operator (admin)")

    text = page_text(admin_client.get(reverse("admin:vendors_vendorkey_change", args=[key.pk])))

    history = text[text.index('class="key-history"') :]
    reset, disabled = history.index("reset by the operator (admin)"), history.index("rejected at once")
    assert reset < disabled
    assert "<td>Auto-disabled</td><td>Active</td><td>reset by the operator (admin)</td>" in history
    assert "<td>Active</td><td>Auto-disabled</td><td>rejected at once (upstream_key_rejected: Invalid token)" in history


def test_the_reset_action_records_who_reset_the_key(admin_client):
    keys_in_every_state()
    key = VendorKey.objects.get(label="d")

    admin_client.post(
        reverse("admin:vendors_vendorkey_changelist"), {"action": "reset_keys", "_selected_action": [str(key.pk)]}
    )

    key.refresh_from_db()
    assert (key.status, key.status_reason) == (Status.ACTIVE, "reset by the operator (admin)")
    assert key.state_changes.first().to_state == Status.ACTIVE


def test_the_vendor_list_shows_usable_over_total_keys_and_the_worst_state(admin_client):
    keys_in_every_state()
    make_vendor(name="calm", keys=["sk-calm-key-0001"])
    make_vendor(name="empty")

    text = words(admin_client.get(reverse("admin:vendors_vendor_changelist")))

    assert "2 / 5 " in text and "● auto-disabled (1)" in text  # a and b serve; d is the worst
    assert "1 / 1 " in text and "● active (1)" in text
    assert "0 / 0 " in text and "● no keys" in text
    vendor_page = words(
        admin_client.get(reverse("admin:vendors_vendor_change", args=[Vendor.objects.get(name="acme").pk]))
    )
    assert "● cooling until " in vendor_page and "● disabled by the operator" in vendor_page  # each key inline


def test_the_vendor_page_edits_the_evidence_a_key_is_disabled_on(admin_client):
    page = page_text(admin_client.get(add_url()))
    assert "Auto-disable a key after failures" in page and "In its last calls" in page

    never = {"failures_to_disable": "", "failure_window": "8"}
    response = admin_client.post(add_url(), {**vendor_post(name="bfl"), **never})

    assert response.status_code == 302, page_text(response)
    assert Vendor.objects.values_list("failures_to_disable", "failure_window").get() == (None, 8)
    too_many = {"failures_to_disable": "9", "failure_window": "8"}
    refused = admin_client.post(add_url(), {**vendor_post(name="fal"), **too_many})
    assert "At most as many failures as the calls they are counted in." in page_text(refused)


def test_the_admin_is_branded_imagegen(admin_client):
    text = page_text(admin_client.get(reverse("admin:index")))

    assert "<title>Gateway administration | imagegen admin</title>" in text
    assert '<a href="/admin/">imagegen</a>' in text
    assert "Django administration" not in text
