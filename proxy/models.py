"""Images the gateway stored, each behind a random token that makes its permanent URL."""

import secrets

from django.db import models


def new_token() -> str:
    return secrets.token_urlsafe(24)  # 192 random bits: unguessable, 32 URL-safe characters


class StoredImage(models.Model):
    token = models.CharField(max_length=64, unique=True, default=new_token, editable=False)
    sha256 = models.CharField(max_length=64, db_index=True)
    file = models.CharField(max_length=200, help_text="Path inside the storage backend (content-addressed).")
    content_type = models.CharField(max_length=50)
    extension = models.CharField(max_length=10)
    width = models.PositiveIntegerField()
    height = models.PositiveIntegerField()
    byte_size = models.PositiveIntegerField()
    vendor = models.CharField(max_length=100, blank=True, help_text="Name of the vendor that made it.")
    created_at = models.DateTimeField(auto_now_add=True, db_index=True)

    class Meta:
        ordering = ["-created_at"]

    def __str__(self) -> str:
        return f"{self.token}.{self.extension}"

    @property
    def path(self) -> str:
        """The URL path that serves it; prefix with PUBLIC_BASE_URL or the request host."""
        return f"/images/{self.token}.{self.extension}"
