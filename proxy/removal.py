"""Removing stored images: an operator's takedown, and the purge of images past their retention.

A removed image keeps its row, marked with when, why and by whom (the ledger's record of what was
made stays whole), and its URL answers 410 Gone. Its file is deleted unless a live row holds the
same bytes: files are content-addressed, so two tokens may share one.

Removal runs in three steps, each safe to repeat, and safe in two processes at once (two purges, a
purge and an admin's takedown):

1. **mark**: one ``UPDATE ... WHERE removed_at IS NULL`` per batch, so each row is marked by exactly one
   process, and the counts of two concurrent runs add up to the rows removed;
2. **announce**: a new removal stamp in the shared cache, after the commit; every worker drops its
   index of recently served images when it sees the stamp change (``proxy.selectors``);
3. **release**: every removed row whose file is not released yet has its file deleted, unless a live
   row still names it, then is marked released. A run cut off between 1 and 3 leaves rows the next run
   releases; deleting a file that is already gone is no error. The check and the delete run under the
   file's lock (``proxy.file_lock``), which a new image that reused the file takes too.
"""

from __future__ import annotations

import logging
import secrets
from dataclasses import dataclass
from datetime import timedelta

from django.core.cache import cache
from django.core.files.storage import default_storage
from django.db import transaction
from django.utils import timezone

from proxy.file_lock import FileBusy, file_lock
from proxy.models import StoredImage
from proxy.object_store import STORAGE_ERRORS, describe

log = logging.getLogger(__name__)

REMOVAL_STAMP_KEY = "images:removal-stamp"
BATCH = 500
PURGED_BY = "purge_images"
KEPT, DELETED, GONE = "kept", "deleted", "gone"


@dataclass
class Removed:
    """What one run did: rows this run marked, files it deleted, files kept for a live row with the same bytes."""

    rows: int = 0
    files_deleted: int = 0
    files_kept: int = 0
    files_failed: int = 0  # storage refused the delete: the rows stay unreleased, the next run tries again

    def add(self, other: Removed) -> None:
        self.rows += other.rows
        self.files_deleted += other.files_deleted
        self.files_kept += other.files_kept
        self.files_failed += other.files_failed


def announce_removal() -> None:
    """Tell every worker (through the shared cache) that images were removed; call it after the commit."""
    cache.set(REMOVAL_STAMP_KEY, secrets.token_hex(8), timeout=None)


def removal_stamp() -> str | None:
    return cache.get(REMOVAL_STAMP_KEY)


def expired(now=None):
    """Live images whose time is up."""
    return StoredImage.objects.filter(removed_at__isnull=True, expires_at__lte=now or timezone.now())


def older_than(days: float, model: str | None = None):
    """Live images stored more than ``days`` ago (of ``model`` only, when given), whatever their expiry."""
    rows = StoredImage.objects.filter(removed_at__isnull=True, created_at__lte=timezone.now() - timedelta(days=days))
    return rows if model is None else rows.filter(model=model)


def take_down(image_ids, *, by: str, reason: str = "") -> Removed:
    """Take images down now (the admin's action): their URLs answer 410 and their files go."""
    ids, done = list(image_ids), Removed()
    for start in range(0, len(ids), BATCH):
        done.add(_remove(ids[start : start + BATCH], StoredImage.Removal.TAKEN_DOWN, by=by, reason=reason))
    return done


def purge(rows, *, reason: str = "retention ended") -> Removed:
    """Remove ``rows`` (``expired()`` or ``older_than()``) as expired, in batches, then release the files of
    every removed row not released yet, those that earlier runs left behind among them."""
    done = Removed()
    while True:
        ids = list(rows.order_by("pk").values_list("pk", flat=True)[:BATCH])
        if not ids:
            break
        done.add(_remove(ids, StoredImage.Removal.EXPIRED, by=PURGED_BY, reason=reason, release=False))
    done.add(release_files())
    return done


def purge_expired(now=None) -> Removed:
    return purge(expired(now or timezone.now()))


def _remove(ids: list[int], removal: str, *, by: str, reason: str, release: bool = True) -> Removed:
    marked = _mark(ids, removal, by=by, reason=reason)
    done = Removed(rows=marked)
    if marked:
        transaction.on_commit(announce_removal)  # at once, unless a caller's transaction is still open
    if release:
        done.add(release_files(ids))
    return done


def _mark(ids: list[int], removal: str, *, by: str, reason: str) -> int:
    with transaction.atomic():
        marked = StoredImage.objects.filter(pk__in=ids, removed_at__isnull=True).update(
            removed_at=timezone.now(), removal=removal, removed_by=by[:150], removal_reason=reason
        )
    return marked


def unreleased(ids: list[int] | None = None):
    rows = StoredImage.objects.filter(removed_at__isnull=False, file_released=False)
    return rows if ids is None else rows.filter(pk__in=ids)


def release_files(ids: list[int] | None = None) -> Removed:
    """Delete the files of removed rows that no live row needs; mark those rows released."""
    done = Removed()
    files = list(unreleased(ids).order_by("file").values_list("file", flat=True).distinct())
    for name in files:
        try:
            with file_lock(name):  # a new image reusing the file checks under the same lock
                outcome = _release(name)
        except (FileBusy, *STORAGE_ERRORS) as exc:
            log.error("could not delete image file %s (%s); the next purge_images tries again", name, describe(exc))
            done.files_failed += 1
            continue
        done.files_kept += outcome == KEPT
        done.files_deleted += outcome == DELETED
        StoredImage.objects.filter(file=name, removed_at__isnull=False, file_released=False).update(file_released=True)
    return done


def _release(name: str) -> str:
    """Delete the file unless a live row names it (KEPT); GONE when another run deleted it first."""
    if StoredImage.objects.filter(file=name, removed_at__isnull=True).exists():
        return KEPT
    if not default_storage.exists(name):
        return GONE
    default_storage.delete(name)
    return DELETED
