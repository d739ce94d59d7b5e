"""What an image model can do beyond its sizes, and where its values came from: fields of ``ImageModel``.

Kept apart from ``vendors.models`` so that module stays small; ``ImageModel`` inherits them. The
capability fields are filled from the catalog (``vendors.catalog``) when a model is made, and are shown
to clients by ``GET /v1/models``. ``catalog_values`` remembers what the catalog gave each field: a field
whose value is still that one is "from the catalog"; one the operator changed since is the operator's.
"""

from __future__ import annotations

from django.core.validators import MinValueValidator
from django.db import models


class CapabilityFields(models.Model):
    max_images = models.PositiveSmallIntegerField(
        null=True,
        blank=True,
        validators=[MinValueValidator(1)],
        verbose_name="images per call",
        help_text="The most images one call to the vendor makes (n / batch size); more are made in several "
        "calls. Empty: the usual most of the vendor's kind.",
    )
    input_images = models.PositiveSmallIntegerField(
        null=True,
        blank=True,
        verbose_name="input images",
        help_text="How many input images (references, images to edit) the model takes; 0: none. Empty: unknown.",
    )
    takes_mask = models.BooleanField(
        default=False, verbose_name="takes a mask", help_text="The model takes a mask with an input image."
    )
    qualities = models.CharField(
        max_length=200, blank=True, help_text="The qualities the model knows, e.g. “standard, hd”. Empty: unknown."
    )
    styles = models.CharField(
        max_length=500, blank=True, help_text="The styles the model knows, e.g. “vivid, natural”. Empty: none known."
    )
    catalog_entry = models.CharField(
        max_length=300, blank=True, editable=False, help_text="The catalog entry (kind:upstream) this model matched."
    )
    catalog_date = models.CharField(
        max_length=10, blank=True, editable=False, help_text="The date of the catalog its values came from."
    )
    catalog_values = models.JSONField(
        default=dict, blank=True, editable=False, help_text="What the catalog gave each field, and the prices."
    )

    class Meta:
        abstract = True
