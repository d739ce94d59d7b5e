"""Vendors, the image models they serve, and their keys: rows that operators manage in admin."""

from __future__ import annotations

from decimal import Decimal

from django.core.exceptions import ValidationError
from django.core.validators import MinValueValidator
from django.db import models
from django.db.models import F

from vendors import cap_fields, key_models
from vendors.adapters import adapter_class, kind_choices
from vendors.adapters.base import SIZE_FORMATS
from vendors.key_models import KeyStateChange, VendorKey  # noqa: F401  (the app's models, defined there)
from vendors.model_capabilities import CapabilityFields
from vendors.size_rules import SizeCapability

# Migrations 0001 and 0002 import validate_http_url and validate_size from this module.
from vendors.validation import (
    Problem,
    by_field,
    fallback_problem,
    size_rule_problems,
    validate_http_url,
    validate_size,
)


class Vendor(models.Model):
    name = models.CharField(max_length=100, unique=True, help_text="Shown to clients as the model owner.")
    kind = models.CharField(max_length=40, choices=kind_choices, help_text="The upstream API this vendor speaks.")
    base_url = models.CharField(
        max_length=500,
        validators=[validate_http_url],
        help_text="API base, e.g. https://api.siliconflow.cn/v1 (a full endpoint URL is accepted too).",
    )
    enabled = models.BooleanField(default=True)
    timeout = models.FloatField(default=120.0, help_text="Seconds one upstream call may take in total.")
    # Caps on what every worker together sends this vendor (vendors.caps).
    requests_per_minute = cap_fields.requests_per_minute()
    max_concurrent_calls = cap_fields.concurrent_calls()
    # Evidence before a key is auto-disabled (vendors.key_evidence).
    failures_to_disable = key_models.failures_to_disable()
    failure_window = key_models.failure_window()
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name

    def clean(self):
        if self.timeout is not None and self.timeout <= 0:
            raise ValidationError({"timeout": "The timeout must be more than 0 seconds."})
        if (self.failures_to_disable or 0) > (self.failure_window or 0) > 0:
            raise ValidationError({"failures_to_disable": "At most as many failures as the calls they are counted in."})


class ImageModel(CapabilityFields):
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
        max_length=11,
        blank=True,
        validators=[validate_size],
        help_text="WxH used when the request and the prompt name no size. Must be one of the allowed sizes, if any.",
    )
    # How the model takes its size, and which sizes it accepts: a request's size is mapped onto these.
    size_format = models.CharField(
        max_length=20,
        blank=True,
        choices=list(SIZE_FORMATS.items()),
        help_text="How the size is sent to the vendor. Leave empty for the usual way of the vendor's kind.",
    )
    allowed_sizes = models.CharField(
        max_length=500,
        blank=True,
        help_text="The only sizes the model makes, e.g. “1024x1024, 1792x1024, 1024x1792”. A request gets the one "
        "closest in shape. When set, the ratio and side rules below are ignored. Empty: any size.",
    )
    allowed_ratios = models.CharField(
        max_length=200,
        blank=True,
        help_text="The only aspect ratios the model takes, e.g. “1:1, 16:9, 9:16”, written as the vendor spells "
        "them. A request gets the closest one. Empty: any ratio.",
    )
    size_multiple = models.PositiveSmallIntegerField(
        null=True,
        blank=True,
        validators=[MinValueValidator(1)],
        verbose_name="sides a multiple of",
        help_text="Width and height are rounded to a multiple of this, e.g. 32 or 64. Empty: any whole number.",
    )
    min_side = models.PositiveIntegerField(
        null=True,
        blank=True,
        validators=[MinValueValidator(1)],
        verbose_name="smallest side",
        help_text="Neither width nor height may be smaller than this many pixels. Empty: no minimum.",
    )
    max_side = models.PositiveIntegerField(
        null=True,
        blank=True,
        validators=[MinValueValidator(1)],
        verbose_name="largest side",
        help_text="Neither width nor height may be larger than this many pixels. Empty: no maximum.",
    )
    max_megapixels = models.FloatField(
        null=True,
        blank=True,
        verbose_name="largest megapixels",
        help_text="Larger requests are scaled down to this area, keeping the shape (1.0 = 1024x1024). Empty: no limit.",
    )
    # Where a request goes when this model cannot serve it.
    fallback = models.ForeignKey(
        "self",
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="fallback_for",
        verbose_name="fallback model",
        help_text="The model (of any vendor) a request moves to when this one cannot serve it: its vendor has no "
        "usable key, or every key failed (vendor down, rate limited, key rejected). A timeout does not move on. "
        "The fallback's own fallback is tried next, and so on; disabled models in the chain are skipped.",
    )
    fallback_on_content_policy = models.BooleanField(
        default=False,
        verbose_name="also fall back on refusals",
        help_text="Also move to the fallback model when the vendor refuses the prompt (content policy) or "
        "rejects the request as bad. Off: such a refusal goes straight back to the client.",
    )
    retention_days = models.PositiveIntegerField(
        null=True,
        blank=True,
        verbose_name="keep images for (days)",
        help_text="Images this model makes are deleted this many days after they were stored (manage.py "
        "purge_images), and their URLs then answer 410 Gone. 0: forever. Empty: the gateway's default "
        "(IMAGE_RETENTION_DAYS; forever when unset). A change applies to images stored after it; "
        "purge_images --older-than DAYS --model NAME applies it to older ones.",
    )
    image_cache_seconds = models.PositiveIntegerField(
        default=0,
        verbose_name="image cache (seconds)",
        help_text="Opt-in. For this long, a request with the same prompt (after the optimizer), size, n, quality and "
        "style gets the images made before, with no vendor call and no cost: the same prompt, the same image. "
        "0: off.",
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name

    @property
    def sent_name(self) -> str:
        return self.upstream_name or self.name

    @property
    def size_capability(self) -> SizeCapability:
        """The size rules of this row; raises ValueError when they do not parse (clean() refuses those)."""
        return SizeCapability.parse(
            sizes=self.allowed_sizes,
            ratios=self.allowed_ratios,
            multiple_of=self.size_multiple,
            min_side=self.min_side,
            max_side=self.max_side,
            max_megapixels=self.max_megapixels,
        )

    def clean(self):
        problems = [
            *self._vendor_problems(),
            *size_rule_problems(self),
            *self._fallback_problems(),
            *self._name_problems(),
        ]
        if problems:
            raise ValidationError(by_field(problems))

    def _vendor_problems(self) -> list[Problem]:
        if not self.vendor_id or adapter_class(self.vendor.kind).purpose == "image":
            return []
        return [
            ("vendor", f"Vendor {self.vendor.name!r} is a {self.vendor.kind} vendor and cannot serve image models.")
        ]

    def _fallback_problems(self) -> list[Problem]:
        if self.fallback_id is None:
            return []
        # One query for the whole chain, however long.
        rows = {
            pk: (name, following) for pk, name, following in ImageModel.objects.values_list("id", "name", "fallback_id")
        }
        problem = fallback_problem(self.pk, self.name, self.fallback_id, rows)
        return [("fallback", problem)] if problem else []

    def _name_problems(self) -> list[Problem]:
        # Name the vendor that already has the model: "already exists" alone sends people hunting.
        # full_clean() skips its own unique check on a field that clean() has flagged.
        if not self.name:
            return []
        taken = ImageModel.objects.filter(name=self.name).exclude(pk=self.pk).select_related("vendor").first()
        if taken is None:
            return []
        return [("name", f"Model name {self.name!r} is already served by vendor {taken.vendor.name!r}.")]


class ModelPrice(models.Model):
    """What one image of a model costs, for one size class and quality: a row of the price table."""

    model = models.ForeignKey(ImageModel, on_delete=models.CASCADE, related_name="prices")
    max_megapixels = models.DecimalField(
        max_digits=7,
        decimal_places=3,
        null=True,
        blank=True,
        validators=[MinValueValidator(Decimal("0.001"))],
        verbose_name="up to megapixels",
        help_text="The price holds for images up to this many megapixels (1.0 = 1024x1024), as sent to the "
        "vendor. Empty: any size.",
    )
    quality = models.CharField(
        max_length=20, blank=True, help_text="The request's quality this price is for (hd, high...). Empty: any."
    )
    price_per_image = models.DecimalField(
        max_digits=12, decimal_places=6, validators=[MinValueValidator(0)], help_text="In PRICE_CURRENCY."
    )

    class Meta:
        ordering = ["model__name", "quality", F("max_megapixels").asc(nulls_last=True), "id"]
        verbose_name = "price"

    def __str__(self) -> str:
        size = f"up to {self.max_megapixels:g} MP" if self.max_megapixels is not None else "any size"
        return f"{self.model.name}, {size}, {self.quality or 'any quality'}: {self.price_per_image}"

    def save(self, *args, **kwargs):
        self.quality = self.quality.strip().lower()
        super().save(*args, **kwargs)
