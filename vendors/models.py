"""Vendors, the image models they serve, and their keys: rows that operators manage in admin."""

from __future__ import annotations

import re
from urllib.parse import urlsplit

from django.core.exceptions import ValidationError
from django.db import models

from imagegen.redaction import mask
from vendors import crypto
from vendors.adapters import KIND_CHOICES, adapter_class

SIZE_RE = re.compile(r"^\d{2,5}x\d{2,5}$")


def validate_http_url(value: str) -> None:
    """http(s) with a host; unlike URLField, single-label hosts (http://flux:8000 in compose) pass."""
    try:
        parts = urlsplit(value)
        parts.port  # noqa: B018  (raises on a malformed port)
    except ValueError as exc:
        raise ValidationError(f"{value!r} is not a valid URL.") from exc
    if parts.scheme not in ("http", "https") or not parts.hostname or any(c.isspace() for c in value):
        raise ValidationError("Enter an http:// or https:// URL with a host.")


def validate_size(value: str) -> None:
    if value and not SIZE_RE.match(value):
        raise ValidationError(f"{value!r} is not a size like 1024x768.")


class Vendor(models.Model):
    name = models.CharField(max_length=100, unique=True, help_text="Shown to clients as the model owner.")
    kind = models.CharField(max_length=40, choices=KIND_CHOICES, help_text="The upstream API this vendor speaks.")
    base_url = models.CharField(
        max_length=500,
        validators=[validate_http_url],
        help_text="API base, e.g. https://api.siliconflow.cn/v1 (a full endpoint URL is accepted too).",
    )
    enabled = models.BooleanField(default=True)
    timeout = models.FloatField(default=120.0, help_text="Seconds one upstream call may take in total.")
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name

    def clean(self):
        if self.timeout is not None and self.timeout <= 0:
            raise ValidationError({"timeout": "The timeout must be more than 0 seconds."})


class ImageModel(models.Model):
    vendor = models.ForeignKey(Vendor, on_delete=models.CASCADE, related_name="models")
    name = models.CharField(
        max_length=200,
        unique=True,
        help_text="Public model name clients send; unique across all vendors.",
        error_messages={"unique": "This model name is already taken by another vendor."},
    )
    upstream_name = models.CharField(
        max_length=200, blank=True, help_text="Name sent to the vendor; empty means the public name."
    )
    enabled = models.BooleanField(default=True)
    default_size = models.CharField(
        max_length=11, blank=True, validators=[validate_size], help_text="WxH used when the request names none."
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name

    @property
    def sent_name(self) -> str:
        return self.upstream_name or self.name

    def clean(self):
        if self.vendor_id and adapter_class(self.vendor.kind).purpose != "image":
            raise ValidationError(
                {"vendor": f"Vendor {self.vendor.name!r} is a {self.vendor.kind} vendor and cannot serve image models."}
            )

    def validate_unique(self, exclude=None):
        # Name the vendor that already has the model: "already exists" alone sends people hunting.
        exclude = set(exclude or ())
        if "name" not in exclude and self.name:
            taken = ImageModel.objects.filter(name=self.name).exclude(pk=self.pk).select_related("vendor").first()
            if taken is not None:
                raise ValidationError(
                    {"name": f"Model name {self.name!r} is already served by vendor {taken.vendor.name!r}."}
                )
            exclude.add("name")
        super().validate_unique(exclude=exclude)


class VendorKey(models.Model):
    class Status(models.TextChoices):
        ACTIVE = "active", "Active"
        AUTO_DISABLED = "auto_disabled", "Auto-disabled"

    vendor = models.ForeignKey(Vendor, on_delete=models.CASCADE, related_name="keys")
    label = models.CharField(max_length=100, blank=True, help_text="A name for logs and the ledger.")
    secret_encrypted = models.TextField(editable=False)
    fingerprint = models.CharField(max_length=64, editable=False)
    last4 = models.CharField(max_length=4, editable=False)
    enabled = models.BooleanField(default=True)
    status = models.CharField(max_length=20, choices=Status.choices, default=Status.ACTIVE)
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

    @property
    def usable(self) -> bool:
        return self.enabled and self.status == self.Status.ACTIVE
