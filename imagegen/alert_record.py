"""The record of an alert: what was raised, when, and whether the webhook took it.

Imported by ``imagegen.models`` so Django registers it; raising and sending is ``imagegen.alerts``.
"""

from __future__ import annotations

from django.db import models


class Alert(models.Model):
    class Kind(models.TextChoices):
        KEY_AUTO_DISABLED = "key_auto_disabled", "Key auto-disabled"
        MODEL_NO_KEY = "model_no_key", "Model has no usable key"
        VENDOR_ERROR_RATE = "vendor_error_rate", "Vendor error rate"
        CLIENT_QUOTA = "client_quota", "Client key quota"

    created_at = models.DateTimeField(auto_now_add=True, db_index=True)
    kind = models.CharField(max_length=20, choices=Kind.choices, db_index=True)
    subject = models.CharField(max_length=200, help_text="What it is about: a key, a model, a vendor, a client key.")
    text = models.TextField(help_text="The text sent (no key, URL or host).")
    delivered = models.BooleanField(default=False, help_text="The webhook answered 2xx.")
    error = models.CharField(max_length=300, blank=True, help_text="Why it was not delivered.")

    class Meta:
        ordering = ["-created_at", "-id"]

    def __str__(self) -> str:
        return f"{self.get_kind_display()}: {self.subject}"
