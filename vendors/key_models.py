"""A vendor's keys, the gateway's verdict on each, and the record of every change of a key's state.

A key's state is the operator's switch (``enabled``) and the gateway's verdict (``status``) together:
switched off, it is "disabled by the operator" whatever the verdict; else the verdict says. The verdict
is written to the row when it changes (``vendors.key_state``), so every worker, instance and admin
page sees it; the key loop's fast path stays in the shared cache (``vendors.keys``).
"""

from __future__ import annotations

from django.core.validators import MinValueValidator
from django.db import models
from django.utils import timezone

from core.redaction import mask
from vendors import crypto

# What the admin and the history call a switched-off key; not a verdict, so not a ``status``.
OPERATOR_OFF = "operator_off"


class VendorKey(models.Model):
    class Status(models.TextChoices):
        ACTIVE = "active", "Active"
        SUSPECT = "suspect", "Suspect"
        COOLING = "cooling", "Cooling"
        AUTO_DISABLED = "auto_disabled", "Auto-disabled"

    vendor = models.ForeignKey("vendors.Vendor", on_delete=models.CASCADE, related_name="keys")
    label = models.CharField(max_length=100, blank=True, help_text="A name for logs and the ledger.")
    secret_encrypted = models.TextField(editable=False)
    fingerprint = models.CharField(max_length=64, editable=False)
    last4 = models.CharField(max_length=4, editable=False)
    enabled = models.BooleanField(default=True, help_text="The operator's switch: off, the key is never used.")
    status = models.CharField(
        max_length=20, choices=Status.choices, default=Status.ACTIVE, verbose_name="gateway's verdict"
    )
    status_reason = models.TextField(blank=True, verbose_name="why", help_text="Why the verdict is what it is.")
    status_changed_at = models.DateTimeField(null=True, blank=True, verbose_name="verdict since")
    cooling_until = models.DateTimeField(null=True, blank=True, help_text="When a resting key is back.")
    failure_count = models.PositiveIntegerField(default=0)
    last_error = models.TextField(blank=True)
    last_used_at = models.DateTimeField(null=True, blank=True)
    last_failed_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["vendor__name", "id"]
        constraints = [
            models.UniqueConstraint(fields=["vendor", "fingerprint"], name="vendor_key_unique_secret"),
        ]

    def __str__(self) -> str:
        return f"{self.vendor.name} {self.display_label}"

    @property
    def display_label(self) -> str:
        return self.label or f"key {mask('****' + self.last4)}"

    @property
    def secret(self) -> str:
        return crypto.decrypt(self.secret_encrypted)

    @secret.setter
    def secret(self, value: str) -> None:
        value = value.strip()
        self.secret_encrypted = crypto.encrypt(value)
        self.fingerprint = crypto.fingerprint(value)
        self.last4 = value[-4:]

    @property
    def masked(self) -> str:
        return mask("****" + self.last4)

    def verdict_now(self, now=None) -> str:
        """The verdict as of ``now``: a rest that has ended reads as active until the key's next call."""
        rest_over = self.cooling_until is None or self.cooling_until <= (now or timezone.now())
        if self.status == self.Status.COOLING and rest_over:
            return self.Status.ACTIVE
        return self.status

    def state_now(self, now=None) -> str:
        """One state: ``OPERATOR_OFF`` when switched off, else the verdict as of ``now``."""
        return self.verdict_now(now) if self.enabled else OPERATOR_OFF

    @property
    def usable(self) -> bool:
        return self.state_now() in (self.Status.ACTIVE, self.Status.SUSPECT)


STATE_CHOICES = [*VendorKey.Status.choices, (OPERATOR_OFF, "Disabled by the operator")]


class KeyStateChange(models.Model):
    """One change of a key's state: when, from what, to what, and why."""

    key = models.ForeignKey(VendorKey, on_delete=models.CASCADE, related_name="state_changes")
    at = models.DateTimeField(default=timezone.now, db_index=True)
    from_state = models.CharField(max_length=20, choices=STATE_CHOICES)
    to_state = models.CharField(max_length=20, choices=STATE_CHOICES)
    reason = models.TextField(blank=True)

    class Meta:
        ordering = ["-at", "-id"]
        verbose_name = "key state change"

    def __str__(self) -> str:
        return f"{self.key_id}: {self.from_state} -> {self.to_state}"


def failures_to_disable() -> models.PositiveIntegerField:
    return models.PositiveIntegerField(
        null=True,
        blank=True,
        default=5,
        validators=[MinValueValidator(1)],
        verbose_name="auto-disable a key after failures",
        help_text="A key is auto-disabled after this many failures of one class (vendor down, no image, timeout, "
        "lost job) in its last calls (next field), while another key of the vendor does not fail that way. A "
        "rejected key (401, spent balance) is disabled at once. Empty: never for failures.",
    )


def failure_window() -> models.PositiveIntegerField:
    return models.PositiveIntegerField(
        default=20,
        validators=[MinValueValidator(1)],
        verbose_name="in its last calls",
        help_text="How many of a key's latest calls the failures above are counted in. A key with a failure in "
        "them is suspect; after this many calls without one it is active again.",
    )
