"""manage.py catalog: the catalog of known image models, and how the gateway's models stand against it."""

from __future__ import annotations

from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError

from vendors.catalog import drift
from vendors.catalog.entries import catalog
from vendors.catalog.fill import prices_apply
from vendors.models import ImageModel


class Command(BaseCommand):
    help = (
        "Lists the catalog of known image models. --diff shows where the gateway's models differ from it; "
        "--apply takes a newer catalog's values into the fields still from the catalog (never the operator's)."
    )

    def add_arguments(self, parser):
        group = parser.add_mutually_exclusive_group()
        group.add_argument("--diff", action="store_true", help="Show which models differ from the catalog.")
        group.add_argument("--apply", action="store_true", help="Apply the catalog where its values are kept.")
        parser.add_argument("--model", help="Only this model (its public name); with --diff or --apply.")

    def handle(self, *args, diff=False, apply=False, model=None, **options):
        if model and not (diff or apply):
            raise CommandError("--model goes with --diff or --apply.")
        if diff or apply:
            self._models(model, apply)
        else:
            self._list()

    def _list(self) -> None:
        shipped = catalog()
        self.stdout.write(f"Catalog of {shipped.date}: {len(shipped.entries)} models, prices in {shipped.currency}.")
        if not prices_apply():
            self.stdout.write(f"PRICE_CURRENCY is not {shipped.currency}: its prices are not copied.")
        for entry in shipped.entries:
            values = entry.values
            sizes = values.get("allowed_sizes") or values.get("allowed_ratios") or _limits(values) or "any size"
            price = f"{len(entry.prices)} price row(s), {entry.prices_checked}" if entry.prices else "no prices"
            self.stdout.write(
                f"  {entry.kind:<14} {entry.upstream:<45} {sizes}; {values.get('max_images', '?')} per call; {price}"
            )

    def _models(self, name: str | None, apply: bool) -> None:
        models = ImageModel.objects.select_related("vendor").prefetch_related("prices")
        if name:
            models = models.filter(name=name)
            if not models:
                raise CommandError(f"No image model is named {name!r}.")
        changed = differing = 0
        for model in models:
            entry = drift.entry_of(model)
            if entry is None:
                if name:
                    self.stdout.write(f"{model.name}: no catalog entry matches {model.vendor.kind}:{model.sent_name}.")
                continue
            found = drift.differences(model, entry)
            differing += bool(found)
            if not found:
                continue
            self.stdout.write(f"{model.name} ({entry.key}):")
            for difference in found:
                self.stdout.write(f"  {difference.describe()}")
            if apply:
                changed += self._apply(model, entry)
        verb = f"; {changed} updated" if apply else ""
        self.stdout.write(f"{differing} model(s) differ from the catalog of {catalog().date}{verb}.")

    def _apply(self, model: ImageModel, entry) -> int:
        try:
            applied = drift.apply(model, entry)
        except ValidationError as exc:
            self.stdout.write(f"  not applied: the result would not be valid ({'; '.join(exc.messages)}).")
            return 0
        if applied:
            self.stdout.write(f"  applied: {', '.join(difference.field for difference in applied)}.")
        return bool(applied)


def _limits(values: dict) -> str:
    parts = []
    if values.get("size_multiple"):
        parts.append(f"x{values['size_multiple']}")
    if values.get("min_side") or values.get("max_side"):
        parts.append(f"{values.get('min_side', '')}-{values.get('max_side', '')} px")
    return " ".join(parts)
