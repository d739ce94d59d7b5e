"""Client keys, the generation ledger and the prompt optimizer's settings."""

from __future__ import annotations

import hashlib
import secrets

from django.core.exceptions import ValidationError
from django.core.validators import MinValueValidator
from django.db import models
from django.utils.functional import lazy
from django.utils.text import format_lazy

from proxy.models import StoredImage
from vendors.adapters import chat_kinds
from vendors.models import Vendor, VendorKey

CLIENT_KEY_PREFIX = "sk-ig-"


def hash_client_key(raw: str) -> str:
    # Client keys are 256-bit random strings, so a fast hash is enough; no salt or KDF needed.
    return hashlib.sha256(raw.encode()).hexdigest()


def model_names(text: str) -> list[str]:
    """The model names of an allowed-models text (commas or whitespace between them), in order, once each."""
    return list(dict.fromkeys(text.replace(",", " ").split()))


class ClientKey(models.Model):
    name = models.CharField(max_length=100, help_text="Who uses this key (an app, a team).")
    prefix = models.CharField(max_length=16, db_index=True, editable=False)
    hashed_key = models.CharField(max_length=64, unique=True, editable=False)
    last4 = models.CharField(max_length=4, editable=False)
    enabled = models.BooleanField(default=True)
    created_at = models.DateTimeField(auto_now_add=True)
    last_used_at = models.DateTimeField(null=True, blank=True)
    # Limits: blank is unlimited. Enforced through the shared cache (imagegen.client_limits).
    allowed_models = models.TextField(
        blank=True,
        help_text="Model names this key may use, separated by commas or spaces; blank: all. "
        "Other models answer 404 model_not_found and are not listed in /v1/models for this key.",
    )
    requests_per_minute = models.PositiveIntegerField(
        null=True, blank=True, help_text="Requests in each clock minute (UTC); more get 429 rate_limit_exceeded."
    )
    max_in_flight = models.PositiveIntegerField(
        "generations in flight",
        null=True,
        blank=True,
        help_text="Generations this key may have running at once; more get 429 rate_limit_exceeded.",
    )
    images_per_day = models.PositiveIntegerField(
        null=True,
        blank=True,
        help_text="Images per UTC day (n of each request, corrected to the images delivered); "
        "more get 429 insufficient_quota.",
    )
    expires_at = models.DateTimeField(
        null=True, blank=True, help_text="From this moment the key is refused (401), as if disabled."
    )
    monthly_budget = models.DecimalField(
        max_digits=14,
        decimal_places=4,
        null=True,
        blank=True,
        validators=[MinValueValidator(0)],
        help_text="Money per UTC calendar month, in PRICE_CURRENCY: the ledger's known costs of this key's "
        "generations; once the month's spend reaches it, requests get 429 insufficient_quota.",
    )

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name

    def clean(self):
        self.allowed_models = ", ".join(model_names(self.allowed_models))

    @classmethod
    def generate(cls, name: str) -> tuple[ClientKey, str]:
        """A new unsaved key and its raw value, which is shown once and never stored."""
        raw = CLIENT_KEY_PREFIX + secrets.token_urlsafe(32)
        key = cls(name=name)
        key.set_raw(raw)
        return key, raw

    def set_raw(self, raw: str) -> None:
        # Only a key this gateway made shows its first characters; a key chosen by hand (the environment's
        # AUTHORIZED_API_KEY) may be short, and shows its last 4 alone.
        self.prefix = raw[: len(CLIENT_KEY_PREFIX) + 6] if raw.startswith(CLIENT_KEY_PREFIX) else ""
        self.hashed_key = hash_client_key(raw)
        self.last4 = raw[-4:]

    @property
    def masked(self) -> str:
        return f"{self.prefix}…{self.last4}"


class Generation(models.Model):
    """One row per generation request, successful or not: the ledger, written before the first vendor call."""

    class Status(models.TextChoices):
        PENDING = "pending", "Pending (in progress)"
        SUCCESS = "success", "Success"
        FAILED = "failed", "Failed"
        INTERRUPTED = "interrupted", "Interrupted (shutdown or crash)"

    created_at = models.DateTimeField(auto_now_add=True, db_index=True)
    client_key = models.ForeignKey(ClientKey, null=True, blank=True, on_delete=models.SET_NULL)
    client_label = models.CharField(max_length=100, blank=True)
    model = models.CharField(max_length=200, db_index=True, help_text="The model the client asked for.")
    served_model = models.CharField(
        max_length=200, blank=True, help_text="The model that made the images (a fallback when it differs)."
    )
    endpoint = models.CharField(max_length=20, blank=True, help_text="chat, chat.stream or images.")
    vendor = models.ForeignKey(Vendor, null=True, blank=True, on_delete=models.SET_NULL)
    vendor_name = models.CharField(max_length=100, blank=True)
    key_label = models.CharField(max_length=100, blank=True)
    status = models.CharField(max_length=12, choices=Status.choices, db_index=True)
    error_code = models.CharField(max_length=50, blank=True)
    error_message = models.TextField(blank=True)
    latency_ms = models.PositiveIntegerField(default=0)
    requested_size = models.CharField(
        max_length=11, blank=True, help_text="From the request's size field, the text, or the model default."
    )
    size = models.CharField(max_length=11, blank=True, help_text="Sent to the vendor, after the model's size rules.")
    generated_size = models.CharField(max_length=100, blank=True, help_text="Measured from the stored images.")
    n = models.PositiveSmallIntegerField(default=1, help_text="Images asked for.")
    end_user = models.CharField(max_length=200, blank=True, help_text="The request's 'user' field.")
    notes = models.TextField(blank=True, help_text="Fallbacks, size changes, images of n that failed.")
    user_prompt = models.TextField(blank=True)
    prompt = models.TextField(blank=True, help_text="The prompt sent to the vendor.")
    images = models.ManyToManyField(StoredImage, blank=True, related_name="generations")
    input_images = models.ManyToManyField(StoredImage, through="GenerationInput", blank=True, related_name="input_to")
    image_count = models.PositiveSmallIntegerField(default=0, help_text="Images delivered.")
    # The optimizer's tokens as its LLM reported them: 0 when it was not asked, null when it was and said nothing.
    optimizer_prompt_tokens = models.PositiveIntegerField(null=True, blank=True, default=0)
    optimizer_completion_tokens = models.PositiveIntegerField(null=True, blank=True, default=0)
    # Costs in cost_currency, written when the row is completed; null when unknown (no price for it).
    vendor_cost = models.DecimalField(
        max_digits=16, decimal_places=8, null=True, blank=True, help_text="The images delivered, by the price table."
    )
    optimizer_cost = models.DecimalField(
        max_digits=16, decimal_places=8, null=True, blank=True, help_text="The optimizer LLM's tokens, by its prices."
    )
    cost_currency = models.CharField(max_length=8, blank=True)
    worker = models.CharField(
        max_length=100, blank=True, help_text="The gateway process that ran it (host/pid:start), for crash recovery."
    )
    request_id = models.CharField(
        max_length=128, blank=True, db_index=True, help_text="The request's X-Request-ID, as in its answer and logs."
    )

    class Meta:
        ordering = ["-created_at"]
        # A client key's spend this month (its monthly budget) is one range scan of this index, which
        # holds the costs too, so the table is not read (imagegen.client_budget).
        indexes = [
            models.Index(
                fields=["client_key", "created_at", "cost_currency", "vendor_cost", "optimizer_cost"],
                name="generation_key_spend",
            )
        ]

    def __str__(self) -> str:
        return f"{self.model} {self.status} {self.created_at:%Y-%m-%d %H:%M:%S}"


class Usage(Generation):
    """The ledger summed up (images and cost per client key, per model, per day): an admin page, no table."""

    class Meta:
        proxy = True
        verbose_name = "usage"
        verbose_name_plural = "usage"


class Dashboard(Generation):
    """Charts of the ledger, the vendors' health and the keys (imagegen.dashboard): an admin page, no table."""

    class Meta:
        proxy = True
        verbose_name = verbose_name_plural = "dashboard"


class VendorAttempt(models.Model):
    """One call to a vendor with one key, for one generation: written before the call is sent."""

    generation = models.ForeignKey(Generation, on_delete=models.CASCADE, related_name="attempts")
    vendor = models.ForeignKey(Vendor, null=True, blank=True, on_delete=models.SET_NULL)
    vendor_name = models.CharField(max_length=100)
    model = models.CharField(max_length=200, help_text="The model this call was for (a fallback's, too).")
    key = models.ForeignKey(VendorKey, null=True, blank=True, on_delete=models.SET_NULL)
    key_label = models.CharField(max_length=100, blank=True)
    n = models.PositiveSmallIntegerField(default=1, help_text="Images this call asked for.")
    started_at = models.DateTimeField(db_index=True)
    ended_at = models.DateTimeField(null=True, blank=True)
    outcome = models.CharField(
        max_length=50, blank=True, help_text="ok, the error's code, or interrupted; empty while the call is under way."
    )
    sent = models.BooleanField(
        null=True, help_text="Whether the vendor had the request (it may bill); unknown when the call was cut off."
    )

    class Meta:
        ordering = ["started_at", "id"]
        indexes = [models.Index(fields=["vendor", "started_at"], name="attempt_vendor_started")]

    def __str__(self) -> str:
        return f"{self.vendor_name} {self.key_label} {self.outcome or 'under way'}"


def _chat_kinds_text() -> str:
    """The kinds whose adapters serve chat, as the optimizer's texts name them."""
    return " or ".join(chat_kinds())


class OptimizerSettings(models.Model):
    """The prompt optimizer's configuration: a single row (pk=1)."""

    class Mode(models.TextChoices):
        OFF = "off", "Off: send the user's words"
        FAST = "fast", "Fast: one direct rewrite"
        REASONING = "reasoning", "Reasoning: the model thinks first"

    class ClientModes(models.TextChoices):
        OWN = "own", "Only the mode set here"
        OFF = "off", "Off, or the mode set here"
        OFF_FAST = "off_fast", "Off, fast, or the mode set here"
        ALL = "all", "Any mode"

    mode = models.CharField(max_length=10, choices=Mode.choices, default=Mode.OFF)
    client_modes = models.CharField(  # a request's prompt_optimizer (imagegen.optimizer_choice)
        "modes clients may choose", max_length=10, choices=ClientModes.choices, default=ClientModes.OFF
    )
    vendor = models.ForeignKey(
        Vendor,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        # Lazy: the registry is read when the text is shown, not while models load.
        help_text=format_lazy("An {} vendor whose keys the optimizer uses.", lazy(_chat_kinds_text, str)()),
    )
    model = models.CharField(max_length=200, blank=True, help_text="The LLM's model name at that vendor.")
    time_budget = models.FloatField(default=20.0, help_text="Seconds before falling back to the user's words.")
    max_words = models.PositiveIntegerField(default=50)
    input_price_per_million = models.DecimalField(
        max_digits=12,
        decimal_places=6,
        null=True,
        blank=True,
        validators=[MinValueValidator(0)],
        verbose_name="price per million input tokens",
        help_text="In PRICE_CURRENCY. Empty: the optimizer's cost is unknown.",
    )
    output_price_per_million = models.DecimalField(
        max_digits=12,
        decimal_places=6,
        null=True,
        blank=True,
        validators=[MinValueValidator(0)],
        verbose_name="price per million output tokens",
        help_text="In PRICE_CURRENCY (reasoning tokens are output tokens). Empty: the optimizer's cost is unknown.",
    )

    class Meta:
        verbose_name = "prompt optimizer settings"
        verbose_name_plural = "prompt optimizer settings"

    def __str__(self) -> str:
        return f"Prompt optimizer ({self.get_mode_display()})"

    def save(self, *args, **kwargs):
        self.pk = 1
        super().save(*args, **kwargs)

    @classmethod
    def load(cls) -> OptimizerSettings:
        return cls.objects.get_or_create(pk=1)[0]

    def clean(self):
        if self.mode != self.Mode.OFF and (self.vendor is None or not self.model):
            raise ValidationError("An optimizer that is on needs a vendor and a model.")
        if self.vendor is not None and self.vendor.kind not in chat_kinds():
            raise ValidationError({"vendor": f"The optimizer needs an {_chat_kinds_text()} vendor."})
        if self.time_budget is not None and self.time_budget <= 0:
            raise ValidationError({"time_budget": "The time budget must be more than 0 seconds."})


# Registered with the app's models; each lives in a module of its own.
from imagegen.alert_record import Alert  # noqa: E402, F401
from imagegen.env_import_record import EnvImport  # noqa: E402, F401
from imagegen.generation_input import GenerationInput  # noqa: E402, F401
from imagegen.idempotency_record import IdempotencyRecord  # noqa: E402, F401
from imagegen.style_record import StylePreset  # noqa: E402, F401
