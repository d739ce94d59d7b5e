"""OpenAI-compatible chat completions, for the prompt optimizer: https://platform.openai.com/docs/api-reference/chat

Request: ``POST {base}/chat/completions`` (or the base itself when it is that endpoint already), Bearer key,
JSON ``{model, messages: [system, user], max_tokens, temperature, stream: false}``.

Answer: ``choices[0].message`` -> ``ChatReply(content, reasoning, finish_reason)``. ``reasoning`` comes from
``reasoning_content`` (DeepSeek, SiliconFlow, vLLM) or ``reasoning`` (OpenRouter). Inline ``<think>`` stays in
``content``: the optimizer strips it. A list ``content`` is joined from its text parts.

Errors (https://api-docs.deepseek.com/quick_start/error_codes and OpenAI's shape, see ``openai_errors``):
401 and 402 (DeepSeek: insufficient balance) -> KeyRejected; 429 ``insufficient_quota`` -> KeyRejected, other
429 -> RateLimited; 5xx -> UpstreamUnavailable; 403 (OpenAI: region or permission; SiliconFlow: real-name check)
-> KeyRejected unless it names moderation; other 4xx -> BadRequest unless the body names a bad key.
"""

from __future__ import annotations

from typing import Any

import httpx

from vendors import errors
from vendors.adapters.base import Adapter, ChatReply, ChatRequest, json_body
from vendors.adapters.openai_errors import bearer_headers, classify_openai_error, error_in_success


class OpenAIChatAdapter(Adapter):
    kind = "openai_chat"
    label = "OpenAI-compatible chat LLM (prompt optimizer)"
    purpose = "chat"

    def build_request(self, request: ChatRequest, key: str) -> httpx.Request:
        payload = {
            "model": request.model,
            "messages": [{"role": "system", "content": request.system}, {"role": "user", "content": request.user}],
            "max_tokens": request.max_tokens,
            "temperature": request.temperature,
            "stream": False,
        }
        url = self.url("chat/completions")
        return httpx.Request("POST", url, headers=bearer_headers(key), json=payload)

    def parse_response(self, response: httpx.Response) -> ChatReply:
        body = json_body(response)
        failure = error_in_success(response, body)
        if failure is not None:
            raise failure
        choices = body.get("choices") if isinstance(body, dict) else None
        if not choices or not isinstance(choices[0], dict):
            raise errors.GenerationFailed("the vendor answered without a choice", vendor_status=response.status_code)
        message = choices[0].get("message") or {}
        reasoning = message.get("reasoning_content") or message.get("reasoning")
        return ChatReply(
            content=text_of(message.get("content")),
            reasoning=reasoning if isinstance(reasoning, str) else None,
            finish_reason=choices[0].get("finish_reason"),
        )

    def classify_error(self, response: httpx.Response) -> errors.UpstreamError:
        return classify_openai_error(response)


def text_of(content: Any) -> str:
    """A message ``content`` as one string: as is, or the text parts of a list joined."""
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        parts = [part.get("text") for part in content if isinstance(part, dict)]
        return "".join(part for part in parts if isinstance(part, str))
    return ""
