"""Placeholder until the adapter lands (being written now)."""

from vendors.adapters.base import Adapter


class WorkersAIAdapter(Adapter):
    kind = "workers_ai"
    label = "workers_ai"
    purpose = "image"
