"""Placeholder until the adapter lands (being written now)."""

from vendors.adapters.base import Adapter


class StabilityAdapter(Adapter):
    kind = "stability"
    label = "stability"
    purpose = "image"
