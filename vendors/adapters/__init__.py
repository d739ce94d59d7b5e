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
    "openai_images": ("vendors.adapters.openai_images.OpenAIImagesAdapter", "OpenAI Images API and compatible"),
    "stability": ("vendors.adapters.stability.StabilityAdapter", "Stability AI Stable Image (v2beta)"),
    "workers_ai": ("vendors.adapters.workers_ai.WorkersAIAdapter", "Cloudflare Workers AI text-to-image"),
    "replicate": ("vendors.adapters.replicate.ReplicateAdapter", "Replicate predictions (polled)"),
    "bfl": ("vendors.adapters.bfl.BFLAdapter", "Black Forest Labs API (polled)"),
    "fal": ("vendors.adapters.fal.FalAdapter", "fal.ai queue (polled)"),
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
