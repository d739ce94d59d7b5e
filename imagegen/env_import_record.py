"""The record of what ``manage.py import_env`` last imported for a target.

Imported by ``imagegen.models`` so Django registers it; the import itself is ``imagegen.env_import``.
"""

from __future__ import annotations

from django.db import models


class EnvImport(models.Model):
    """What ``manage.py import_env`` last wrote for one vendor it seeds, or for the optimizer.

    The next import compares the environment with it to tell a change in the environment (applied)
    from an edit made in admin (kept, and reported as drift). Keys are kept as fingerprints.
    """

    target = models.CharField(max_length=120, unique=True, help_text='"vendor:<name>" or "optimizer".')
    values = models.JSONField(default=dict, help_text="The environment's values at the last import.")
    imported_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["target"]
        verbose_name = "environment import"

    def __str__(self) -> str:
        return self.target
