"""Placeholder until the adapter lands (being written now)."""

from vendors.adapters.base import Adapter


class FalAdapter(Adapter):
    kind = "fal"
    label = "fal"
    purpose = "image"
