"""Fake OpenAI-compatible chat LLM (vendor-protocols §10), and ``openai_error``, the OpenAI-family error bodies.

    fake = OpenAIChatFake().start()
    base_url = fake.url + "/v1"
    fake.keys = {"sk-bad": "invalid"}   # behaviour per key; other keys get fake.default_behaviour ("ok")
    fake.mode = "think_tags"            # how an ok answer looks (below)
    fake.reply = "A red lantern"        # the final answer: a string, or a callable(user_text) -> str
    fake.thinking = "Let me think"      # the reasoning text the thinking modes show
    fake.latency = 0.5

Modes: ``plain``; ``think_tags`` (content "<think>…</think>\\n\\nfinal");
``closing_think_only`` ("…</think>\\n\\nfinal");
``reasoning_content`` (DeepSeek field); ``reasoning_field`` (OpenRouter field); ``content_parts`` (content as a list
of text parts); ``empty_length`` (empty content, finish_reason "length"); ``http200_error`` (200 with an ``error``
whose code is ``fake.error_code``).

Usage: ``fake.usage = "counted"`` (the default: tokens counted from the texts, as OpenAI reports them),
``"missing"`` (no ``usage``), or a dict sent as it is; ``fake.usages`` lists what was sent.

Behaviours: ``ok``, ``slow`` (sleeps ``fake.slow_seconds`` more) and every name in ``OPENAI_ERRORS``.
"""

from __future__ import annotations

import json
import math
import time
from collections.abc import Callable

from aiohttp import web

from tests.fakes.profile import KindProfile
from tests.fakes.siliconflow import VendorFake, models_list

# behaviour -> (status, body). "{key}" becomes the key sent: OpenAI echoes part of it, the fake all of it, so
# tests prove adapters keep keys (and URLs) out of error messages.
OPENAI_ERRORS: dict[str, tuple[int, object]] = {
    # OpenAI: 401 invalid_api_key; the message names the key and a URL.
    "invalid": (
        401,
        {
            "error": {
                "message": "Incorrect API key provided: {key}. You can find your API key at https://platform.example/keys.",
                "type": "invalid_request_error",
                "param": None,
                "code": "invalid_api_key",
            }
        },
    ),
    # DeepSeek: 402 insufficient balance. OpenRouter: 402 no credits.
    "no_balance": (402, {"error": {"message": "Insufficient Balance", "type": "unknown_error", "code": None}}),
    "no_credits": (402, {"error": {"code": 402, "message": "Insufficient credits. Add more at https://x.example/c"}}),
    # OpenRouter: 403 = the input was flagged by moderation.
    "moderated": (
        403,
        {
            "error": {
                "code": 403,
                "message": "Input was flagged by moderation.",
                "metadata": {"reasons": ["violence"], "flagged_input": "...", "provider_name": "p", "model_slug": "m"},
            }
        },
    ),
    # A relay's 403 that is plainly about the key.
    "forbidden_key": (403, {"error": {"code": 403, "message": "Invalid API key or insufficient permissions."}}),
    "timeout": (408, {"error": {"code": 408, "message": "Request timed out."}}),
    # OpenAI's two 429s: a cooldown, and a spent quota (billing).
    "rate_limited": (
        429,
        {"error": {"message": "Rate limit reached for requests", "type": "requests", "code": "rate_limit_exceeded"}},
    ),
    "quota": (
        429,
        {
            "error": {
                "message": "You exceeded your current quota, please check your plan and billing details.",
                "type": "insufficient_quota",
                "code": "insufficient_quota",
            }
        },
    ),
    # OpenAI moderation: 400 content_policy_violation / moderation_blocked.
    "policy": (
        400,
        {
            "error": {
                "message": "Your request was rejected as a result of our safety system.",
                "type": "image_generation_user_error",
                "code": "content_policy_violation",
            }
        },
    ),
    "moderation_blocked": (400, {"error": {"message": "Request blocked.", "code": "moderation_blocked"}}),
    # xAI: a bad key is a 400 whose `error` is a string.
    "xai_invalid": (
        400,
        {
            "code": "Client specified an invalid argument",
            "error": "Incorrect API key provided: {key}. You can obtain an API key from https://console.x.example.",
        },
    ),
    # Gemini's compat endpoint: a JSON array, 400 with reason API_KEY_INVALID.
    "gemini_invalid": (
        400,
        [
            {
                "error": {
                    "code": 400,
                    "message": "API key not valid. Please pass a valid API key.",
                    "status": "INVALID_ARGUMENT",
                    "details": [{"@type": "type.googleapis.com/google.rpc.ErrorInfo", "reason": "API_KEY_INVALID"}],
                }
            }
        ],
    ),
    "bad_request": (400, {"error": {"message": "Unknown model: nope", "type": "invalid_request_error", "code": None}}),
    "server_error": (500, {"error": {"message": "The server had an error.", "type": "server_error"}}),
    "provider_down": (502, {"error": {"code": 502, "message": "Provider returned error"}}),
    "overloaded": (503, {"error": {"code": 503, "message": "Server overloaded, no provider available."}}),
}


def openai_error(behaviour: str, key: str, retry_after: float) -> web.Response | None:
    """The error answer for ``behaviour`` (None when it is not an error behaviour)."""
    if behaviour not in OPENAI_ERRORS:
        return None
    status, body = OPENAI_ERRORS[behaviour]
    text = json.dumps(body).replace("{key}", json.dumps(key)[1:-1])
    headers = {"Retry-After": f"{retry_after:g}"} if status == 429 else None
    return web.Response(status=status, text=text, content_type="application/json", headers=headers)


def count_tokens(text: str) -> int:
    """About as many tokens as an English BPE tokenizer makes: one per 4 characters, at least one per word."""
    return max(len(text.split()), math.ceil(len(text) / 4))


def _text(content) -> str:
    if isinstance(content, list):
        return "".join(part.get("text", "") for part in content if isinstance(part, dict))
    return content if isinstance(content, str) else ""


def usage_of(messages: list, message: dict) -> dict:
    """What OpenAI bills and reports: each input message's tokens plus ~4 of framing, and the output's tokens
    (the thinking too, which reasoning models bill as output)."""
    prompt = sum(count_tokens(_text(m.get("content"))) + 4 for m in messages if isinstance(m, dict)) + 3
    output = "".join(_text(message.get(field)) for field in ("content", "reasoning_content", "reasoning"))
    completion = count_tokens(output)
    return {"prompt_tokens": prompt, "completion_tokens": completion, "total_tokens": prompt + completion}


def completion(model: str, message: dict, finish_reason: str | None = "stop", usage=None, **choice_extra) -> dict:
    choice = {"index": 0, "finish_reason": finish_reason, "message": {"role": "assistant", **message}, **choice_extra}
    body = {
        "id": f"chatcmpl-{time.monotonic_ns()}",
        "object": "chat.completion",
        "created": int(time.time()),
        "model": model,
        "choices": [choice],
    }
    if usage is not None:
        body["usage"] = usage
    return body


class OpenAIChatFake(VendorFake):
    api_paths = ("/v1/chat/completions",)

    def __init__(self, keys: dict[str, str] | None = None, *, mode: str = "plain", latency: float = 0.0):
        super().__init__(keys, latency=latency)
        self.mode = mode
        self.reply: str | Callable[[str], str] = "A red paper lantern glowing on a rain-soaked night street, cinematic"
        self.thinking = "The user wants an atmospheric night scene; translate and enrich it."
        self.error_code = 502
        # "counted": usage as OpenAI reports it, from the texts (usage_of); "missing": no usage; a dict: sent as is.
        self.usage: str | dict = "counted"
        self.usages: list[dict] = []  # the usage of each answer sent, as sent

    def setup_routes(self, app: web.Application) -> None:
        super().setup_routes(app)
        app.router.add_post("/v1/chat/completions", self.complete)
        app.router.add_get("/v1/models", self.models)

    async def models(self, request: web.Request) -> web.Response:
        key, _ = self.behaviour_of(request)
        refused = openai_error("invalid", key, self.retry_after)
        return self.probe_failure(request, refused) or models_list("gpt-4o-mini", "deepseek-chat")

    async def complete(self, request: web.Request) -> web.Response:
        key, behaviour = self.behaviour_of(request)
        await self.pause(behaviour)
        failure = openai_error(behaviour, key, self.retry_after)
        if failure is not None:
            return failure
        payload = await request.json()
        user = next((m.get("content") for m in payload.get("messages", []) if m.get("role") == "user"), "")
        final = self.reply(user) if callable(self.reply) else self.reply
        think = self.thinking
        messages = {
            "plain": ({"content": final}, "stop"),
            "think_tags": ({"content": f"<think>{think}</think>\n\n{final}"}, "stop"),
            "closing_think_only": ({"content": f"{think}\n</think>\n\n{final}"}, "stop"),
            "reasoning_content": ({"content": final, "reasoning_content": think}, "stop"),
            "reasoning_field": ({"content": final, "reasoning": think}, "stop"),
            "content_parts": ({"content": [{"type": "text", "text": final}]}, "stop"),
            "empty_length": ({"content": "", "reasoning_content": think}, "length"),
        }
        if self.mode == "http200_error":
            return web.json_response({"error": {"code": self.error_code, "message": "Provider returned error"}})
        message, finish_reason = messages[self.mode]
        usage = self._usage(payload.get("messages", []), message)
        return web.json_response(completion(payload.get("model", ""), message, finish_reason, usage))

    def _usage(self, messages: list, message: dict) -> dict | None:
        if self.usage == "missing":
            return None
        usage = usage_of(messages, message) if self.usage == "counted" else self.usage
        self.usages.append(usage)
        return usage


PROFILE = KindProfile(
    fake=OpenAIChatFake,
    path="/v1",
    model="deepseek-chat",
    moderated="policy",
    bad_key="invalid",
)
