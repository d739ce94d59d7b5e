"""The bodies the API answers with: chat completions (whole or as stream chunks) and Images API lists.

Plain functions of a finished ``GenerationOutcome``; the views add HTTP around them.
"""

from __future__ import annotations

import json
import time

from imagegen.costs import shown
from imagegen.generation import GenerationOutcome
from imagegen.styles import Style
from vendors.selectors import ModelRoute
from vendors.services import images_per_call


def chat_content(outcome: GenerationOutcome, image_urls: list[str]) -> str:
    """The assistant's Markdown: every image, the prompt sent, and a footer that tells the truth
    about the model and size that made the images (and why they differ from what was asked)."""
    parts = [f"![image]({url})" for url in image_urls]
    label = "Optimized prompt" if outcome.optimized else "Prompt"
    parts.append(f"{label}: {outcome.prompt}")
    sizes = ", ".join(outcome.generated_sizes) or outcome.size
    parts.append(f"Model: {outcome.model} · Size: {sizes}")
    parts.extend(f"Note: {note}" for note in outcome.notes)
    return "\n\n".join(parts)


def tokens(outcome: GenerationOutcome) -> tuple[int, int]:
    """The optimizer LLM's input and output tokens as it reported them; 0 when it was off or said nothing."""
    return outcome.usage.prompt_tokens or 0, outcome.usage.completion_tokens or 0


def cost_text(outcome: GenerationOutcome) -> str:
    """``0.040000 USD``, or ``unknown`` when something in it has no price."""
    return outcome.cost.text() if outcome.cost else "unknown"


def cost_headers(outcome: GenerationOutcome) -> dict[str, str]:
    """The cost for clients (``X-Imagegen-Cost``) and for LiteLLM, which reads ``x-litellm-response-cost``
    of an OpenAI-compatible backend as the request's ``response_cost`` (a bare number); and
    ``X-Imagegen-Cache: hit`` when the images came from the image cache."""
    headers = {"X-Imagegen-Cost": cost_text(outcome)}
    if outcome.from_cache:
        headers["X-Imagegen-Cache"] = "hit"
    total = outcome.cost.total if outcome.cost else None
    if total is not None:
        headers["x-litellm-response-cost"] = str(shown(total))
    return headers


def usage(outcome: GenerationOutcome) -> dict:
    """Chat usage: the optimizer's real tokens (images have none), and the cost as a number when it is known."""
    prompt_tokens, completion_tokens = tokens(outcome)
    body = {
        "prompt_tokens": prompt_tokens,
        "completion_tokens": completion_tokens,
        "total_tokens": prompt_tokens + completion_tokens,
    }
    total = outcome.cost.total if outcome.cost else None
    if total is not None:
        body["cost"] = float(shown(total))  # where OpenRouter puts it; the exact figure is in the ledger
    return body


def chat_completion(completion_id: str, outcome: GenerationOutcome, content: str) -> dict:
    return {
        "id": completion_id,
        "object": "chat.completion",
        "created": int(time.time()),
        "model": outcome.model,
        "choices": [
            {
                "index": 0,
                "message": {"role": "assistant", "content": content},
                "logprobs": None,
                "finish_reason": "stop",
            }
        ],
        "usage": usage(outcome),
    }


class ChunkWriter:
    """Server-sent events in OpenAI's ``chat.completion.chunk`` format, for one completion."""

    def __init__(self, completion_id: str, model: str):
        self.id = completion_id
        self.model = model
        self.created = int(time.time())

    def _event(self, payload: dict) -> bytes:
        return b"data: " + json.dumps(payload, ensure_ascii=False, separators=(",", ":")).encode() + b"\n\n"

    def _payload(self, delta: dict, finish_reason: str | None = None) -> dict:
        return {
            "id": self.id,
            "object": "chat.completion.chunk",
            "created": self.created,
            "model": self.model,
            "choices": [{"index": 0, "delta": delta, "logprobs": None, "finish_reason": finish_reason}],
        }

    def chunk(self, delta: dict, finish_reason: str | None = None) -> bytes:
        return self._event(self._payload(delta, finish_reason))

    def role(self) -> bytes:
        return self.chunk({"role": "assistant", "content": ""})

    def reasoning(self, step: str) -> bytes:
        return self.chunk({"reasoning_content": step + "\n"})

    def content(self, text: str) -> bytes:
        return self.chunk({"content": text})

    def finish(self, outcome: GenerationOutcome) -> bytes:
        """The finish chunk, with the cost (as ``X-Imagegen-Cost`` says it) that headers sent first could not
        carry, and ``"cache": "hit"`` when the images came from the image cache."""
        extra = {"cache": "hit"} if outcome.from_cache else {}
        return self.finish_costing(cost_text(outcome), **extra)

    def finish_costing(self, cost: str, **extra: str) -> bytes:
        return self._event({**self._payload({}, "stop"), "cost": cost, **extra})

    def usage(self, outcome: GenerationOutcome) -> bytes:
        """The extra last chunk ``stream_options.include_usage`` asks for: no choices, the usage."""
        return self.usage_chunk(usage(outcome))

    def usage_chunk(self, body: dict) -> bytes:
        return self._event(
            {
                "id": self.id,
                "object": "chat.completion.chunk",
                "created": self.created,
                "model": self.model,
                "choices": [],
                "usage": body,
            }
        )

    def error(self, body: dict) -> bytes:
        return self._event(body)

    @staticmethod
    def heartbeat() -> bytes:
        # An SSE comment: clients ignore it, proxies see bytes and keep the connection.
        return b": keep-alive\n\n"

    @staticmethod
    def done() -> bytes:
        return b"data: [DONE]\n\n"


def images_response(outcome: GenerationOutcome, items: list[dict]) -> dict:
    """OpenAI's Images answer, plus the model and the size that made the images, and any notes."""
    body = {
        "created": int(time.time()),
        "data": [{**item, "revised_prompt": outcome.prompt} for item in items],
        "model": outcome.model,
        "size": ", ".join(outcome.generated_sizes) or outcome.size,
        "usage": images_usage(outcome),
        "cost": cost_text(outcome),
    }
    if outcome.notes:
        body["notes"] = outcome.notes
    return body


def images_usage(outcome: GenerationOutcome) -> dict:
    """OpenAI's Images ``usage`` shape, holding the optimizer LLM's tokens (the image models report none)."""
    input_tokens, output_tokens = tokens(outcome)
    return {
        "input_tokens": input_tokens,
        "output_tokens": output_tokens,
        "total_tokens": input_tokens + output_tokens,
        "input_tokens_details": {"text_tokens": input_tokens, "image_tokens": 0},
    }


def model_entry(route: ModelRoute) -> dict:
    """A model in ``GET /v1/models``: OpenAI's fields, and beside them what the model can do, so a client
    can build its pickers (sizes or ratios, images per call, input images) without guessing."""
    capability = route.capability
    multiple, low, high, megapixels = capability.limits
    limits = {"multiple_of": multiple, "min_side": low, "max_side": high, "max_megapixels": megapixels}
    return {
        "id": route.name,
        "object": "model",
        "created": route.created,
        "owned_by": route.vendor.name,
        "capabilities": {
            "sizes": [f"{width}x{height}" for width, height in capability.sizes],
            "ratios": [f"{width}:{height}" for width, height in capability.ratios],
            "size_limits": limits if any(value is not None for value in limits.values()) else None,
            "default_size": route.default_size or None,
            "images_per_call": images_per_call(route),
            "input_images": route.input_images,
            "mask": route.takes_mask,
            "qualities": list(route.qualities),
            "styles": list(route.styles),
        },
    }


def style_entry(style: Style) -> dict:
    """One style preset in GET /v1/styles: what a client may pick; its guidance and suffix stay the operator's."""
    return {
        "id": style.name,
        "object": "style",
        "description": style.description,
        "default_ratio": style.default_ratio or None,
        "negative_prompt": bool(style.negative_prompt.strip()),
    }
