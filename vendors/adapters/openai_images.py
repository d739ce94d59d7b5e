"""Placeholder until the adapter lands (being written now)."""

from vendors.adapters.base import Adapter


class OpenAIImagesAdapter(Adapter):
    kind = "openai_images"
    label = "openai_images"
    purpose = "image"
