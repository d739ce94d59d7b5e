"""What the optimizer tests share: the LLM fake's rewrite, the optimizer set up on it, and calls to both endpoints
that read back what the fakes were asked."""

from __future__ import annotations

import json
from decimal import Decimal

from imagegen.models import OptimizerSettings
from tests.factories import make_key, make_vendor

REWRITE = "a cat asleep on a windowsill, soft morning light"
IDEA = "a sleepy cat"


def optimizer_on(llm, **fields) -> OptimizerSettings:
    """The optimizer in fast mode on ``llm`` (an OpenAIChatFake), with token prices, and ``fields`` on top."""
    vendor = make_vendor(name="optimizer", kind="openai_chat", base_url=llm.url + "/v1")
    make_key(vendor, "sk-llm-key-0001")
    row = OptimizerSettings(
        mode="fast",
        vendor=vendor,
        model="deepseek-chat",
        input_price_per_million=Decimal("0.27"),
        output_price_per_million=Decimal("1.10"),
        **fields,
    )
    row.save()
    return row


def post(client, path: str, body: dict, key: str):
    return client.post(path, data=json.dumps(body), content_type="application/json", HTTP_AUTHORIZATION=f"Bearer {key}")


def chat(client, content: str = IDEA, *, key: str, **extra):
    body = {"model": "flux-schnell", "messages": [{"role": "user", "content": content}], **extra}
    return post(client, "/v1/chat/completions", body, key)


def images(client, prompt: str = IDEA, *, key: str, **extra):
    return post(client, "/v1/images/generations", {"model": "flux-schnell", "prompt": prompt, **extra}, key)


def llm_requests(llm) -> list[dict]:
    return [r.json for r in llm.requests if r.path == "/v1/chat/completions"]


def generations_sent(fake) -> list[dict]:
    """The generation bodies an image fake received (not its file downloads)."""
    return [r.json for r in fake.requests if r.path == "/v1/images/generations"]
