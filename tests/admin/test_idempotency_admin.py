"""The admin's view of Idempotency-Keys: who sent which key, and what a retry with it would get."""

from __future__ import annotations

from datetime import timedelta
from html import unescape

import pytest
from django.urls import reverse
from django.utils import timezone

from imagegen.idempotency import WorkerLost, error_answer
from imagegen.models import Generation, IdempotencyRecord

pytestmark = pytest.mark.django_db


def record(key: str, answer: dict | None, **fields) -> IdempotencyRecord:
    return IdempotencyRecord.objects.create(
        scope="key:1",
        client_label="mobile app",
        key=key,
        request_hash="0" * 64,
        endpoint="images",
        state="in_flight" if answer is None else "done",
        answer=answer,
        expires_at=timezone.now() + timedelta(hours=24),
        **fields,
    )


def test_the_list_shows_each_key_its_client_and_what_a_retry_gets(admin_client):
    row = Generation.objects.create(model="flux-schnell", status="success", image_count=2)
    record("order-1", {"kind": "images", "body": {}, "b64": False, "images": ["a", "b"]}, generation=row)
    record("order-2", error_answer(WorkerLost()))
    record("order-3", None)

    page = unescape(admin_client.get(reverse("admin:imagegen_idempotencyrecord_changelist")).content.decode())

    assert "order-1" in page and "2 image(s)" in page and "mobile app" in page
    assert "502 worker_lost: The gateway process that handled the first request" in page
    assert "order-3" in page and "In flight" in page
    detail = admin_client.get(
        reverse("admin:imagegen_idempotencyrecord_change", args=[IdempotencyRecord.objects.get(key="order-1").pk])
    )
    assert reverse("admin:imagegen_generation_change", args=[row.pk]) in detail.content.decode()


def test_deleting_a_record_frees_its_key_and_nothing_else_can_be_edited(admin_client):
    held = record("order-1", error_answer(WorkerLost()))

    assert admin_client.get(reverse("admin:imagegen_idempotencyrecord_add")).status_code == 403
    response = admin_client.post(
        reverse("admin:imagegen_idempotencyrecord_delete", args=[held.pk]), {"post": "yes"}, follow=True
    )

    assert response.status_code == 200
    assert not IdempotencyRecord.objects.exists()
