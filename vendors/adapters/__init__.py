"""The registry: the only list of upstream API kinds.

One line per kind, naming its adapter class; the class carries the kind's name (``kind``), its
label in admin (``label``) and what it serves (``purpose``). ``Vendor.kind`` choices, the admin's
kind filters, ``import_env`` and the tests all read the kinds from here.
"""

from __future__ import annotations

from functools import cache
from importlib import import_module

from vendors.adapters.base import ChatAdapter, ImageAdapter

AdapterClass = type[ImageAdapter] | type[ChatAdapter]

ADAPTER_CLASSES: tuple[str, ...] = (
    "vendors.adapters.siliconflow.SiliconFlowAdapter",
    "vendors.adapters.chat_image.ChatImageAdapter",
    "vendors.adapters.openai_images.OpenAIImagesAdapter",
    "vendors.adapters.stability.StabilityAdapter",
    "vendors.adapters.workers_ai.WorkersAIAdapter",
    "vendors.adapters.replicate.ReplicateAdapter",
    "vendors.adapters.bfl.BFLAdapter",
    "vendors.adapters.fal.FalAdapter",
    "vendors.adapters.openai_chat.OpenAIChatAdapter",
)


@cache
def adapters() -> dict[str, AdapterClass]:
    """kind -> adapter class, in registry order."""
    classes: dict[str, AdapterClass] = {}
    for dotted in ADAPTER_CLASSES:
        module_name, class_name = dotted.rsplit(".", 1)
        cls = getattr(import_module(module_name), class_name)
        if not (isinstance(cls, type) and issubclass(cls, ImageAdapter | ChatAdapter)):
            raise TypeError(f"{dotted} is neither an ImageAdapter nor a ChatAdapter")
        classes[cls.kind] = cls
    return classes


def adapter_class(kind: str) -> AdapterClass:
    try:
        return adapters()[kind]
    except KeyError:
        raise LookupError(f"unknown vendor kind {kind!r}; known kinds: {', '.join(adapters())}") from None


def kind_choices() -> list[tuple[str, str]]:
    """``Vendor.kind`` choices (a callable, so adding a kind needs no migration)."""
    return [(kind, cls.label) for kind, cls in adapters().items()]


def image_kinds() -> list[str]:
    return [kind for kind, cls in adapters().items() if cls.purpose == "image"]


def chat_kinds() -> list[str]:
    return [kind for kind, cls in adapters().items() if cls.purpose == "chat"]
