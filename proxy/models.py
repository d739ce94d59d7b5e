"""Images the gateway stored, each behind a random token that makes its permanent URL."""

import secrets

from django.db import models


def new_token() -> str:
    return secrets.token_urlsafe(24)  # 192 random bits: unguessable, 32 URL-safe characters


class StoredImage(models.Model):
    class Removal(models.TextChoices):
        EXPIRED = "expired", "Expired (purged)"
        TAKEN_DOWN = "taken_down", "Taken down"

    token = models.CharField(max_length=64, unique=True, default=new_token, editable=False)
    sha256 = models.CharField(max_length=64, db_index=True)
    file = models.CharField(max_length=200, help_text="Path inside the storage backend (content-addressed).")
    content_type = models.CharField(max_length=50)
    extension = models.CharField(max_length=10)
    width = models.PositiveIntegerField()
    height = models.PositiveIntegerField()
    byte_size = models.PositiveIntegerField()
    vendor = models.CharField(max_length=100, blank=True, help_text="Name of the vendor that made it.")
    model = models.CharField(max_length=200, blank=True, help_text="The model that made it.")
    created_at = models.DateTimeField(auto_now_add=True, db_index=True)
    expires_at = models.DateTimeField(
        null=True,
        blank=True,
        db_index=True,
        help_text="Set when stored, from its model's retention; empty: kept forever.",
    )
    # A removed image keeps its row (the ledger's record) and its URL answers 410 Gone; its file is deleted
    # unless a live row holds the same bytes (content addressing).
    removed_at = models.DateTimeField(null=True, blank=True, db_index=True)
    removal = models.CharField(max_length=12, blank=True, choices=Removal.choices)
    removed_by = models.CharField(max_length=150, blank=True, help_text="The admin user, or purge_images.")
    removal_reason = models.TextField(blank=True)
    file_released = models.BooleanField(
        default=False,
        help_text="The removed row no longer holds its file: the file was deleted, or is kept for a live row "
        "with the same bytes. False on a removed row: the purge that removed it has not finished.",
    )

    class Meta:
        ordering = ["-created_at"]

    def __str__(self) -> str:
        return f"{self.token}.{self.extension}"

    @property
    def removed(self) -> bool:
        return self.removed_at is not None

    @property
    def path(self) -> str:
        """The URL path that serves it; prefix with PUBLIC_BASE_URL or the request host."""
        return f"/images/{self.token}.{self.extension}"
