"""The link from a ledger row to the images its client sent in: which stored image, in what place, image or mask.

Imported by ``imagegen.models`` so Django registers it (``Generation.input_images`` goes through it). The images
are kept like results (``proxy.services``: content-addressed, verified), written with the row's completion.
"""

from __future__ import annotations

from django.db import models


class GenerationInput(models.Model):
    generation = models.ForeignKey("imagegen.Generation", on_delete=models.CASCADE, related_name="inputs")
    image = models.ForeignKey("proxy.StoredImage", on_delete=models.CASCADE, related_name="input_of")
    position = models.PositiveSmallIntegerField(help_text="The image's place in the request (0: the first).")
    is_mask = models.BooleanField(default=False, help_text="The edit's mask rather than an image to edit.")

    class Meta:
        ordering = ["generation", "is_mask", "position"]

    def __str__(self) -> str:
        return f"{'mask' if self.is_mask else f'input {self.position + 1}'} of generation {self.generation_id}"
