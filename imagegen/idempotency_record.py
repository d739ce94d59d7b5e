"""The database record of an ``Idempotency-Key``: one row per (client, key), the answer once there is one.

Imported by ``imagegen.models`` so Django registers it; the logic is ``imagegen.idempotency``.
"""

from __future__ import annotations

from django.db import models


class IdempotencyRecord(models.Model):
    """A request sent with an ``Idempotency-Key``: in flight, then done with the answer to replay.

    The unique (scope, key) is what makes two workers or two instances that race on the same key
    insert exactly one row: the loser reads the winner's row and waits for its answer.
    """

    class State(models.TextChoices):
        IN_FLIGHT = "in_flight", "In flight"
        DONE = "done", "Done (the answer is stored)"

    scope = models.CharField(max_length=40, help_text='Whose key it is: "key:<client key id>" or "bootstrap".')
    client_label = models.CharField(max_length=100, blank=True, help_text="The client key's name when it was used.")
    key = models.CharField(max_length=255, help_text="The Idempotency-Key header as the client sent it.")
    request_hash = models.CharField(max_length=64, help_text="SHA-256 of the endpoint and the body's canonical JSON.")
    endpoint = models.CharField(max_length=20)
    state = models.CharField(max_length=10, choices=State.choices, default=State.IN_FLIGHT)
    answer = models.JSONField(null=True, blank=True, help_text="What a replay answers (image URLs, not bytes).")
    generation = models.ForeignKey(
        "imagegen.Generation", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    worker = models.CharField(max_length=100, blank=True, help_text="The gateway process running it while in flight.")
    created_at = models.DateTimeField(auto_now_add=True)
    expires_at = models.DateTimeField(db_index=True, help_text="Then the key may be used again (IDEMPOTENCY_TTL).")

    class Meta:
        constraints = [models.UniqueConstraint(fields=["scope", "key"], name="idempotency_key_once_per_client")]

    def __str__(self) -> str:
        return f"{self.scope} {self.key} {self.state}"
