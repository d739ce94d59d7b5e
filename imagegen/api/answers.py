"""The bodies the API answers with: chat completions (whole or as stream chunks) and Images API lists.

Plain functions of a finished ``GenerationOutcome``; the views add HTTP around them.
"""

from __future__ import annotations

import json
import time

from imagegen.generation import GenerationOutcome


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


def usage(prompt: str, content: str) -> dict:
    # Word counts: images have no tokens, and clients only need a plausible, stable figure.
    prompt_tokens, completion_tokens = len(prompt.split()), len(content.split())
    return {
        "prompt_tokens": prompt_tokens,
        "completion_tokens": completion_tokens,
        "total_tokens": prompt_tokens + completion_tokens,
    }


def chat_completion(completion_id: str, outcome: GenerationOutcome, content: str, prompt: str) -> dict:
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
        "usage": usage(prompt, content),
    }


class ChunkWriter:
    """Server-sent events in OpenAI's ``chat.completion.chunk`` format, for one completion."""

    def __init__(self, completion_id: str, model: str):
        self.id = completion_id
        self.model = model
        self.created = int(time.time())

    def _event(self, payload: dict) -> bytes:
        return b"data: " + json.dumps(payload, ensure_ascii=False, separators=(",", ":")).encode() + b"\n\n"

    def chunk(self, delta: dict, finish_reason: str | None = None) -> bytes:
        return self._event(
            {
                "id": self.id,
                "object": "chat.completion.chunk",
                "created": self.created,
                "model": self.model,
                "choices": [{"index": 0, "delta": delta, "logprobs": None, "finish_reason": finish_reason}],
            }
        )

    def role(self) -> bytes:
        return self.chunk({"role": "assistant", "content": ""})

    def reasoning(self, step: str) -> bytes:
        return self.chunk({"reasoning_content": step + "\n"})

    def content(self, text: str) -> bytes:
        return self.chunk({"content": text})

    def finish(self) -> bytes:
        return self.chunk({}, finish_reason="stop")

    def usage(self, prompt: str, content: str) -> bytes:
        """The extra last chunk ``stream_options.include_usage`` asks for: no choices, the usage."""
        return self._event(
            {
                "id": self.id,
                "object": "chat.completion.chunk",
                "created": self.created,
                "model": self.model,
                "choices": [],
                "usage": usage(prompt, content),
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
    }
    if outcome.notes:
        body["notes"] = outcome.notes
    return body
