"""core.rows writes what the ORM would: the same values read back, ids set, defaults and auto_now_add applied."""

from datetime import timedelta
from decimal import Decimal

import pytest
from django.db.models import Model
from django.forms.models import model_to_dict
from django.utils import timezone

from core import rows
from imagegen.models import Generation, VendorAttempt
from proxy.models import StoredImage
from tests.factories import make_client_key, make_vendor

pytestmark = pytest.mark.django_db


def _ledger_values(vendor, client_key) -> dict:
    return {
        "client_key_id": client_key.pk,
        "client_label": "app",
        "model": "flux",
        "vendor_id": vendor.pk,
        "vendor_name": vendor.name,
        "status": Generation.Status.SUCCESS,
        "error_message": "naïve \u263a",
        "latency_ms": 1234,
        "n": 2,
        "image_count": 2,
        "vendor_cost": Decimal("0.012300"),
        "optimizer_cost": None,
        "cost_currency": "USD",
        "prompt": "a lighthouse",
    }


def _stored(model: type[Model], pk: int) -> dict:
    saved = model.objects.get(pk=pk)
    return {field.attname: getattr(saved, field.attname) for field in model._meta.concrete_fields}


def test_a_created_row_reads_back_as_the_orms_does_but_for_its_id_and_creation_time():
    vendor, (client_key, _) = make_vendor(), make_client_key()
    values = _ledger_values(vendor, client_key)
    before = timezone.now()
    fast = rows.create(Generation, **values)
    slow = Generation.objects.create(**values)
    fast_row, slow_row = _stored(Generation, fast.pk), _stored(Generation, slow.pk)
    assert fast.pk and fast.pk != slow.pk and not fast._state.adding
    assert before <= fast_row["created_at"] <= slow_row["created_at"]
    for different in ("id", "created_at"):
        del fast_row[different], slow_row[different]
    assert fast_row == slow_row
    assert fast_row["vendor_cost"] == Decimal("0.012300") and fast_row["error_message"] == "naïve \u263a"


def test_an_update_changes_only_the_named_columns():
    vendor, (client_key, _) = make_vendor(), make_client_key()
    row = rows.create(Generation, **_ledger_values(vendor, client_key))
    other = rows.create(Generation, **_ledger_values(vendor, client_key))
    rows.update(Generation, row.pk, status=Generation.Status.FAILED, vendor_id=None, optimizer_cost=Decimal("0.5"))
    updated = Generation.objects.get(pk=row.pk)
    assert (updated.status, updated.vendor_id, updated.optimizer_cost) == ("failed", None, Decimal("0.5"))
    assert updated.latency_ms == 1234 and updated.prompt == "a lighthouse"
    assert model_to_dict(Generation.objects.get(pk=other.pk)) == model_to_dict(other)


def test_many_rows_get_their_own_ids_in_order_even_past_one_statements_parameters():
    generation = rows.create(Generation, model="m", status=Generation.Status.PENDING)
    started = timezone.now()
    count = rows.MAX_PARAMS // len(rows._fields(VendorAttempt)) * 2 + 3  # three statements
    attempts = [
        VendorAttempt(generation_id=generation.pk, vendor_name="v", model="m", key_label=f"k{i}", started_at=started)
        for i in range(count)
    ]
    written = rows.insert(attempts)
    assert [row.key_label for row in written] == [f"k{i}" for i in range(count)]
    for row in written:
        assert VendorAttempt.objects.get(pk=row.pk).key_label == row.key_label


def test_a_default_made_by_the_model_is_the_value_stored():
    expires = timezone.now() + timedelta(days=3)
    image = StoredImage(sha256="0" * 64, file="images/00/x.png", content_type="image/png", extension="png")
    image.width, image.height, image.byte_size, image.expires_at = 2, 3, 4, expires
    [written] = rows.insert([image])
    stored = StoredImage.objects.get(pk=written.pk)
    assert stored.token == image.token and len(stored.token) > 20
    assert stored.expires_at == expires and stored.created_at == image.created_at
