"""Every row the import writes is checked as admin would check it, and a problem names its variable."""

from __future__ import annotations

from django.core.exceptions import NON_FIELD_ERRORS, ValidationError
from django.core.management.base import CommandError
from django.db import models


def validate(row: models.Model, source: str) -> None:
    """``full_clean()``, with a failure as a ``CommandError`` naming ``source`` (the whole import rolls back)."""
    try:
        row.full_clean()
    except ValidationError as exc:
        details = "; ".join(
            " ".join(errors) if name == NON_FIELD_ERRORS else f"{name}: {' '.join(errors)}"
            for name, errors in exc.message_dict.items()
        )
        raise CommandError(f"{source}: {details}") from None
