"""Which client key row a staff member's playground requests are recorded and limited under."""

from __future__ import annotations

from django.conf import settings
from django.db import models


class PlaygroundKey(models.Model):
    """One per staff member, made on first use. The key's raw value is thrown away when it is made: the
    row only names the caller in the ledger and carries the limits, so nothing can present it as a Bearer."""

    user = models.OneToOneField(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="playground_key")
    client_key = models.OneToOneField("imagegen.ClientKey", on_delete=models.CASCADE, related_name="+")

    def __str__(self) -> str:
        return f"{self.user} -> {self.client_key}"
