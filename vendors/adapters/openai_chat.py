"""OpenAI-compatible chat completions, for the prompt optimizer: https://platform.openai.com/docs/api-reference/chat

Request: ``POST {base}/chat/completions`` (or the base itself when it is that endpoint already), Bearer key,
JSON ``{model, messages: [system, user], max_tokens, temperature, stream: false}``.

Answer: ``choices[0].message`` -> ``ChatReply(content, reasoning, finish_reason)``, with the tokens of
``usage.prompt_tokens`` / ``usage.completion_tokens`` (None when the answer has no such whole number).
``reasoning`` comes from ``reasoning_content`` (DeepSeek, SiliconFlow, vLLM) or ``reasoning`` (OpenRouter).
Inline ``<think>`` stays in ``content``: the optimizer strips it. A list ``content`` is joined from its text parts.

Errors (https://api-docs.deepseek.com/quick_start/error_codes and OpenAI's shape), decided by
``vendors.errors.classify`` in the common order: 401 and 402 (DeepSeek: insufficient
balance) -> KeyRejected; 429 ``insufficient_quota`` -> KeyRejected, other 429 -> RateLimited; 5xx ->
UpstreamUnavailable; 403 (OpenAI: permission; SiliconFlow: real-name check) -> KeyRejected unless it names
moderation; other 4xx -> BadRequest unless the body names a bad key. The OpenAI family's difference
(``OPENAI_ERRORS``, shared with ``openai_images``): a 403 ``unsupported_country_region_territory`` refuses the
country the gateway calls from, not a key, so it is BadRequest (every key would get it; none is disabled). A
200 carrying an ``error`` is classified the same way.
"""

from __future__ import annotations

import math

import httpx

from vendors import errors
from vendors.adapters.base import ChatAdapter, ChatReply, ChatRequest, bearer_headers
from vendors.adapters.probing import model_count
from vendors.adapters.reading import Json, as_dict, as_list, as_str, json_body
from vendors.errors import ErrorTable

# OpenAI refuses the country the gateway calls from: another key gets the same answer, and no key is at fault.
OPENAI_ERRORS = ErrorTable(
    codes={"unsupported_country_region_territory": errors.BadRequest, "unsupported_country": errors.BadRequest}
)


class OpenAIChatAdapter(ChatAdapter):
    kind = "openai_chat"
    label = "OpenAI-compatible chat LLM (prompt optimizer)"
    error_table = OPENAI_ERRORS

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

    def probe_requests(self, key: str) -> list[httpx.Request]:
        # The models list every OpenAI-compatible API serves to a key.
        return [httpx.Request("GET", f"{self.root('chat/completions')}/models", headers=bearer_headers(key))]

    def probe_summary(self, body: Json) -> str:
        return model_count(body)

    def parse_response(self, response: httpx.Response) -> ChatReply:
        body = json_body(response)
        failure = self.error_in_success(response, body)
        if failure is not None:
            raise failure
        choices = as_list(as_dict(body).get("choices"))
        if not choices or not isinstance(choices[0], dict):
            raise errors.GenerationFailed("the vendor answered without a choice", vendor_status=response.status_code)
        choice = choices[0]
        message = as_dict(choice.get("message"))
        reasoning = message.get("reasoning_content") or message.get("reasoning")
        usage = as_dict(as_dict(body).get("usage"))
        return ChatReply(
            content=text_of(message.get("content")),
            reasoning=reasoning if isinstance(reasoning, str) else None,
            finish_reason=as_str(choice.get("finish_reason")),
            prompt_tokens=token_count(usage.get("prompt_tokens")),
            completion_tokens=token_count(usage.get("completion_tokens")),
        )


MAX_TOKENS = 2_000_000_000  # fits the ledger's column; a larger count is no count


def token_count(value: Json) -> int | None:
    """A token count from a usage field: a whole number from 0 to MAX_TOKENS, else None (unknown)."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    if isinstance(value, float) and not (math.isfinite(value) and value.is_integer()):
        return None
    return int(value) if 0 <= value <= MAX_TOKENS else None


def text_of(content: Json) -> str:
    """A message ``content`` as one string: as is, or the text parts of a list joined."""
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        parts = [part.get("text") for part in content if isinstance(part, dict)]
        return "".join(part for part in parts if isinstance(part, str))
    return ""
