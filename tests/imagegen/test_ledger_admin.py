"""The ledger in the admin: the new statuses, and every vendor attempt of a row, read-only."""

from html import unescape

from django.urls import reverse
from django.utils import timezone

from imagegen.models import Generation, VendorAttempt


def generation(status: str, **fields) -> Generation:
    return Generation.objects.create(model="flux-pro", vendor_name="sf", status=status, user_prompt="a fox", **fields)


def attempt(row: Generation, key_label: str, outcome: str, sent: bool | None) -> VendorAttempt:
    return VendorAttempt.objects.create(
        generation=row,
        vendor_name="sf",
        model="flux-pro",
        key_label=key_label,
        started_at=timezone.now(),
        outcome=outcome,
        sent=sent,
    )


def test_the_ledger_filters_by_pending_and_interrupted_and_counts_each_rows_attempts(admin_client):
    running = generation("pending")
    cut = generation("interrupted", error_code="worker_lost")
    generation("success")
    attempt(cut, "k1", "upstream_key_rejected", True)
    attempt(cut, "k2", "interrupted", None)
    url = reverse("admin:imagegen_generation_changelist")

    listed = {
        status: admin_client.get(url, {"status__exact": status}).context["cl"].result_list
        for status in ("pending", "interrupted")
    }

    assert [row.pk for row in listed["pending"]] == [running.pk]
    assert [(row.pk, row.attempt_total) for row in listed["interrupted"]] == [(cut.pk, 2)]
    assert "Interrupted (shutdown or crash)" in unescape(admin_client.get(url).content.decode())


def test_a_ledger_row_shows_its_attempts_in_order_and_they_cannot_be_edited(admin_client):
    row = generation("success", worker="host-a/4242:99")
    attempt(row, "key …aaaa", "upstream_key_rejected", True)
    attempt(row, "key …bbbb", "", None)
    change = reverse("admin:imagegen_generation_change", args=[row.pk])

    text = unescape(admin_client.get(change).content.decode())

    assert text.index("key …aaaa") < text.index("key …bbbb")
    assert "upstream_key_rejected" in text and "under way" in text and "host-a/4242:99" in text
    assert 'name="attempts-0-outcome"' not in text and 'name="_save"' not in text
