"""The rules vendor rows must follow, as plain functions over their values: no queries, no forms.

Field validators (``validate_http_url``, ``validate_size``) sit on the model fields; the checks that
read several fields at once return ``(field, message)`` problems for ``ImageModel.clean()`` to raise.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from urllib.parse import urlsplit

from django.core.exceptions import ValidationError

from vendors.size_rules import SizeCapability

SIZE_RE = re.compile(r"^\d{2,5}x\d{2,5}$")

Problem = tuple[str, str]  # (field name, message)
ChainRows = Mapping[int, tuple[str, int | None]]  # pk -> (name, fallback pk) of every image model


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


def size_rule_problems(model) -> list[Problem]:
    """What is wrong with an image model's size rules (its allowed_* and side fields, its default size)."""
    problems: list[Problem] = []
    sizes: tuple[tuple[int, int], ...] = ()
    try:
        sizes = SizeCapability.parse(sizes=model.allowed_sizes).sizes
    except ValueError as exc:
        problems.append(("allowed_sizes", str(exc)))
    try:
        SizeCapability.parse(ratios=model.allowed_ratios)
    except ValueError as exc:
        problems.append(("allowed_ratios", str(exc)))
    problems += _limit_problems(model)
    if sizes and model.default_size and SIZE_RE.match(model.default_size):
        width, height = (int(side) for side in model.default_size.split("x"))
        if (width, height) not in sizes:
            problems.append(
                ("default_size", f"{model.default_size} is not one of the allowed sizes ({model.allowed_sizes}).")
            )
    return problems


def _limit_problems(model) -> list[Problem]:
    if model.max_megapixels is not None and model.max_megapixels <= 0:
        return [("max_megapixels", "The megapixel limit must be more than 0.")]
    if any(value is not None and value < 1 for value in (model.size_multiple, model.min_side, model.max_side)):
        return []  # the fields' own validators say so
    if model.min_side and model.max_side and model.min_side > model.max_side:
        return [("max_side", f"The largest side must be at least the smallest side ({model.min_side}).")]
    checks = (
        ("max_megapixels", {"min_side": model.min_side, "max_megapixels": model.max_megapixels}),
        ("size_multiple", {"multiple_of": model.size_multiple, "min_side": model.min_side, "max_side": model.max_side}),
    )
    problems = []
    for field, limits in checks:
        try:
            SizeCapability.parse(**limits)
        except ValueError as exc:
            problems.append((field, str(exc)))
    return problems


def fallback_problem(pk: int | None, name: str, fallback_pk: int, rows: ChainRows) -> str:
    """Why the model ``pk`` called ``name`` cannot fall back to ``fallback_pk`` (itself, or a loop back),
    or "" when it can. ``rows`` holds the saved chains."""
    if pk is not None and fallback_pk == pk:
        return "A model cannot be its own fallback."
    chain = [name]
    seen = {pk}
    current = fallback_pk
    while current is not None and current in rows:
        if current == pk:
            chain.append(name)
            return f"This fallback makes a loop: {' -> '.join(chain)}. Choose a model whose chain does not lead back."
        following_name, following = rows[current]
        chain.append(following_name)
        if current in seen:
            return f"This fallback leads into a loop: {' -> '.join(chain)}. Fix that chain or choose another model."
        seen.add(current)
        current = following
    return ""


def by_field(problems: list[Problem]) -> dict[str, list[str]]:
    """Problems in the shape ``ValidationError`` takes: messages grouped under their field."""
    grouped: dict[str, list[str]] = {}
    for field, message in problems:
        grouped.setdefault(field, []).append(message)
    return grouped
