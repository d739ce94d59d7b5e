"""Takedowns and the purge of expired images, seen from the image URL: 410 Gone, the file deleted
unless a live image holds the same bytes, the row kept for the ledger."""

from __future__ import annotations

import time
from datetime import timedelta
from io import StringIO

import pytest
from django.core.files.storage import default_storage
from django.core.management import CommandError, call_command
from django.db import transaction
from django.utils import timezone

from proxy.file_lock import file_lock
from proxy.models import StoredImage
from proxy.removal import purge_expired, take_down
from proxy.services import prepare_image, record_images, store_image
from tests.fakes.server import png_bytes
from tests.proxy import run
from tests.proxy.test_serve import assert_openai_error

pytestmark = pytest.mark.django_db(transaction=True)


def stored(colour=(1, 2, 3), *, expires_in: float | None = None) -> StoredImage:
    """A stored image (same colour: same bytes, so the same file), expiring in ``expires_in`` seconds."""
    image = run(store_image(data=png_bytes(30, 20, colour), vendor="fake"))
    if expires_in is not None:
        StoredImage.objects.filter(pk=image.pk).update(expires_at=timezone.now() + timedelta(seconds=expires_in))
    return StoredImage.objects.get(pk=image.pk)


def purge(*args: str) -> str:
    out = StringIO()
    call_command("purge_images", *args, stdout=out)
    return out.getvalue()


def test_a_taken_down_image_answers_410_and_its_file_is_gone_but_its_row_stays(client):
    image = stored()
    assert client.get(image.path).status_code == 200

    done = take_down([image.pk], by="alice", reason="DMCA notice 42")

    assert (done.rows, done.files_deleted) == (1, 1)
    error = assert_openai_error(client.get(image.path), 410, "image_removed")
    assert "taken down" in error["message"]
    assert client.head(image.path).status_code == 410
    assert not default_storage.exists(image.file)
    row = StoredImage.objects.get(pk=image.pk)
    assert (row.removal, row.removed_by, row.removal_reason, row.file_released) == (
        "taken_down",
        "alice",
        "DMCA notice 42",
        True,
    )
    assert row.removed_at is not None


def test_a_takedown_keeps_the_file_while_another_live_image_has_the_same_bytes(client):
    first, twin = stored(), stored()
    assert first.file == twin.file and first.token != twin.token

    done = take_down([first.pk], by="alice", reason="report")

    assert (done.files_deleted, done.files_kept) == (0, 1)
    assert_openai_error(client.get(first.path), 410, "image_removed")
    assert client.get(twin.path).content == png_bytes(30, 20, (1, 2, 3))

    assert take_down([twin.pk], by="alice", reason="report").files_deleted == 1
    assert_openai_error(client.get(twin.path), 410, "image_removed")
    assert not default_storage.exists(twin.file)


def test_taking_down_an_image_twice_changes_nothing_the_second_time():
    image = stored()
    take_down([image.pk], by="alice", reason="first")

    again = take_down([image.pk], by="bob", reason="second")

    assert (again.rows, again.files_deleted) == (0, 0)
    assert StoredImage.objects.get(pk=image.pk).removed_by == "alice"


def test_purge_removes_expired_images_and_leaves_the_others_serving(client):
    old = stored((200, 0, 0), expires_in=-60)
    fresh = stored((0, 200, 0), expires_in=3600)
    forever = stored((0, 0, 200))
    shared_old, shared_live = stored((9, 9, 9), expires_in=-1), stored((9, 9, 9))
    for image in (old, fresh, forever):
        assert client.get(image.path).status_code == 200  # indexed by this worker

    output = purge()

    assert output.strip() == "Purged 2 expired image(s); deleted 1 file(s), kept 1 file(s) that live images still use."
    error = assert_openai_error(client.get(old.path), 410, "image_expired")
    assert "retention period" in error["message"]
    assert_openai_error(client.get(shared_old.path), 410, "image_expired")
    assert not default_storage.exists(old.file)
    for image in (fresh, forever, shared_live):
        response = client.get(image.path)
        assert response.status_code == 200 and len(response.content) == image.byte_size
    row = StoredImage.objects.get(pk=old.pk)
    assert (row.removal, row.removed_by, row.file_released) == ("expired", "purge_images", True)


def test_a_second_purge_finds_nothing_to_do():
    stored(expires_in=-1)
    purge()

    assert purge().startswith("Purged 0 expired image(s); deleted 0 file(s)")


def test_a_dry_run_lists_the_expired_images_and_changes_nothing(client):
    old = stored(expires_in=-5)
    stored((5, 5, 5), expires_in=60)

    output = purge("--dry-run")

    assert old.path in output and "Would purge 1 image(s)" in output
    assert client.get(old.path).status_code == 200
    assert StoredImage.objects.filter(removed_at__isnull=False).count() == 0


def test_a_purge_cut_off_before_deleting_files_is_finished_by_the_next_run(client):
    image = stored(expires_in=-1)
    # What a purge killed between marking the rows and deleting their files leaves behind:
    StoredImage.objects.filter(pk=image.pk).update(removed_at=timezone.now(), removal="expired")
    assert default_storage.exists(image.file)

    assert "deleted 1 file(s)" in purge()

    assert not default_storage.exists(image.file)
    assert StoredImage.objects.get(pk=image.pk).file_released


def test_a_removal_reaches_a_worker_that_already_served_the_image_within_the_check_interval(client, settings):
    settings.IMAGE_REMOVAL_CHECK_SECONDS = 0.3
    image, twin = stored(), stored()  # the twin keeps the file: only the index can stop this image
    assert client.get(image.path).status_code == 200

    # The takedown is the database's and the shared cache's news, as from another process.
    take_down([image.pk], by="alice", reason="report")
    time.sleep(0.35)

    assert_openai_error(client.get(image.path), 410, "image_removed")
    assert client.get(twin.path).status_code == 200


def test_images_purged_in_batches_all_go(client, monkeypatch):
    monkeypatch.setattr("proxy.removal.BATCH", 2)
    images = [stored((index, 0, 0), expires_in=-1) for index in range(5)]

    done = purge_expired()

    assert (done.rows, done.files_deleted) == (5, 5)
    assert all(client.get(image.path).status_code == 410 for image in images)


def test_an_image_that_reused_a_file_while_a_purge_deleted_it_gets_its_file_back(client):
    old = stored(expires_in=-1)
    # A new generation of the same bytes finds the file in place and does not write it...
    prepared = run(prepare_image(data=png_bytes(30, 20, (1, 2, 3)), vendor="fake"))
    assert prepared.file == old.file and prepared.reused_bytes is not None
    # ...a purge then finds no live row naming it and deletes it, before the new row is recorded.
    assert purge_expired().files_deleted == 1
    assert not default_storage.exists(old.file)

    with transaction.atomic():
        (new,) = record_images([prepared])

    response = client.get(new.path)
    assert response.status_code == 200 and response.content == png_bytes(30, 20, (1, 2, 3))
    assert_openai_error(client.get(old.path), 410, "image_expired")


def test_a_purge_leaves_a_file_that_a_new_image_is_checking_for_the_next_run(client, monkeypatch):
    monkeypatch.setattr("proxy.file_lock.WAIT_SECONDS", 0.1)
    image = stored(expires_in=-1)

    with file_lock(image.file), pytest.raises(CommandError, match="1 file"):
        purge()

    assert default_storage.exists(image.file) and not StoredImage.objects.get(pk=image.pk).file_released
    assert_openai_error(client.get(image.path), 410, "image_expired")
    assert "deleted 1 file(s)" in purge()
    assert not default_storage.exists(image.file)


def test_older_than_applies_a_shortened_retention_to_images_stored_before_it(client):
    old_flux, old_other, new_flux = stored((1, 1, 1)), stored((2, 2, 2)), stored((3, 3, 3))
    StoredImage.objects.filter(pk__in=[old_flux.pk, new_flux.pk]).update(model="flux")
    StoredImage.objects.filter(pk=old_other.pk).update(model="other")
    StoredImage.objects.filter(pk__in=[old_flux.pk, old_other.pk]).update(
        created_at=timezone.now() - timedelta(days=10)
    )

    listed = purge("--older-than", "7", "--model", "flux", "--dry-run")
    assert old_flux.path in listed and old_other.path not in listed and new_flux.path not in listed
    output = purge("--older-than", "7", "--model", "flux")

    assert output.startswith("Purged 1 expired image(s); deleted 1 file(s)")
    assert [client.get(image.path).status_code for image in (old_flux, old_other, new_flux)] == [410, 200, 200]
    assert StoredImage.objects.get(pk=old_flux.pk).removal_reason == "purge_images --older-than 7"


def test_model_without_older_than_is_refused():
    with pytest.raises(CommandError, match="--older-than"):
        purge("--model", "flux")


def test_a_takedown_of_more_images_than_a_batch_takes_them_all(client, monkeypatch):
    monkeypatch.setattr("proxy.removal.BATCH", 2)
    images = [stored((index, 9, 0)) for index in range(5)]

    done = take_down([image.pk for image in images], by="alice", reason="bulk")

    assert (done.rows, done.files_deleted) == (5, 5)
    assert all(client.get(image.path).status_code == 410 for image in images)
