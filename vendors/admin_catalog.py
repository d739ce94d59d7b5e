"""The catalog in admin: a new model is filled from it, and its page shows which values came from it."""

from __future__ import annotations

from django.contrib import admin, messages
from django.utils.html import format_html, format_html_join

from vendors.catalog import drift
from vendors.catalog.fill import create_prices, fill_fields, summary
from vendors.models import ImageModel

CAPABILITY_FIELDS = ("max_images", "input_images", "takes_mask", "qualities", "styles")


class CatalogFillMixin:
    """For ``ImageModelAdmin``: fills a model being added from the catalog, and shows where values came from."""

    def save_model(self, request, obj, form, change):
        if not change:
            request._catalog_filled = fill_fields(obj)
        super().save_model(request, obj, form, change)

    def save_related(self, request, form, formsets, change):
        super().save_related(request, form, formsets, change)  # the operator's own price rows first: they win
        if not change:
            _tell(request, form.instance, getattr(request, "_catalog_filled", []))

    @admin.display(description="from the catalog")
    def catalog_provenance(self, obj):
        if obj is None or obj.pk is None:
            return "Filled when the model is saved: the empty fields and the prices of its catalog entry, if any."
        if not obj.catalog_entry:
            return "No catalog entry matched this model when it was made."
        rows = drift.field_states(obj)
        if not rows:
            return f"Entry {obj.catalog_entry} (catalog of {obj.catalog_date}); it gave no value."
        items = format_html_join("", "<li>{}: {}</li>", rows)
        return format_html("Entry {} (catalog of {}):<ul>{}</ul>", obj.catalog_entry, obj.catalog_date, items)


def fill_new_inline_models(request, formset) -> None:
    """For ``VendorAdmin.save_formset``: fills the models being added on the vendor page (before they are saved)."""
    new = [
        form.instance
        for form in formset.forms
        if form.instance.pk is None and form.has_changed() and not formset._should_delete_form(form)
    ]
    for model in new:
        if not model.vendor_id:  # a vendor added on this very page: saved by now, unknown to its new rows
            model.vendor = formset.instance
    filled = {id(model): fill_fields(model) for model in new}
    formset.save()
    for model in new:
        if model.pk is not None and id(model) in filled:
            _tell(request, model, filled[id(model)])


def _tell(request, model: ImageModel, filled: list[str]) -> None:
    line = summary(model, filled, create_prices(model))
    if line:
        messages.info(request, line)
