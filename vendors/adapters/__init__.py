"""The registry: the only list of upstream API kinds.

``Vendor.kind`` choices come from here. Adding a kind touches three places: its module in this
package, one line below, and its tests.
"""

from __future__ import annotations

from functools import cache
from importlib import import_module

# kind -> (dotted path of the adapter class, label shown in admin)
ADAPTERS: dict[str, tuple[str, str]] = {
    "siliconflow": ("vendors.adapters.siliconflow.SiliconFlowAdapter", "SiliconFlow images (JSON image URLs)"),
    "chat_image": ("vendors.adapters.chat_image.ChatImageAdapter", "Chat-completions image model"),
    "openai_chat": ("vendors.adapters.openai_chat.OpenAIChatAdapter", "OpenAI-compatible chat LLM (prompt optimizer)"),
}

KIND_CHOICES = [(kind, label) for kind, (_, label) in ADAPTERS.items()]


@cache
def adapter_class(kind: str):
    try:
        dotted = ADAPTERS[kind][0]
    except KeyError:
        raise LookupError(f"unknown vendor kind {kind!r}; known kinds: {', '.join(ADAPTERS)}") from None
    module_name, class_name = dotted.rsplit(".", 1)
    return getattr(import_module(module_name), class_name)


def image_kinds() -> list[str]:
    return [kind for kind in ADAPTERS if adapter_class(kind).purpose == "image"]


def chat_kinds() -> list[str]:
    return [kind for kind in ADAPTERS if adapter_class(kind).purpose == "chat"]
