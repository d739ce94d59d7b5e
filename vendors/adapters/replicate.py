"""Placeholder until the adapter lands (being written now)."""

from vendors.adapters.base import Adapter


class ReplicateAdapter(Adapter):
    kind = "replicate"
    label = "replicate"
    purpose = "image"
