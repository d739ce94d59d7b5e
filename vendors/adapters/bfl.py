"""Placeholder until the adapter lands (being written now)."""

from vendors.adapters.base import Adapter


class BFLAdapter(Adapter):
    kind = "bfl"
    label = "bfl"
    purpose = "image"
