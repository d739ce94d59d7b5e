"""The optimizer cache: an idea rewritten before is rewritten again with no LLM call, 0 tokens and no cost.

Real fakes on 127.0.0.1 (SiliconFlow for images, an OpenAI-compatible LLM for the optimizer, both recording
what they were asked), the gateway's own views, the shared cache as the test settings configure it.
"""

import asyncio
import json
from decimal import Decimal

import pytest

from imagegen import prompt_cache
from imagegen.models import Generation
from tests.api.prompt_calls import optimizer_on
from tests.factories import client_key_row
from tests.fakes.openai_chat import OpenAIChatFake
from vendors.adapters.base import ChatRequest
from vendors.models import ModelPrice

pytestmark = pytest.mark.django_db(transaction=True)

CLIENT_KEY = "client-key-for-optimizer-cache-01"
REWRITE = "a cat asleep on a windowsill, watercolour, soft morning light"


@pytest.fixture(autouse=True)
def _bootstrap_key(settings):
    client_key_row(CLIENT_KEY)


@pytest.fixture
def llm():
    with OpenAIChatFake() as fake:
        fake.reply = REWRITE
        yield fake


@pytest.fixture
def optimizer(llm, flux):
    ModelPrice.objects.create(model=flux, price_per_image=Decimal("0.04"))
    return optimizer_on(llm)


def post(client, path: str, body: dict):
    return client.post(
        path, data=json.dumps(body), content_type="application/json", HTTP_AUTHORIZATION=f"Bearer {CLIENT_KEY}"
    )


def chat(client, content="a sleepy cat", **extra):
    body = {"model": "flux-schnell", "messages": [{"role": "user", "content": content}], **extra}
    return post(client, "/v1/chat/completions", body)


def images(client, prompt="a sleepy cat", **extra):
    return post(client, "/v1/images/generations", {"model": "flux-schnell", "prompt": prompt, **extra})


def stream_events(response) -> list[dict]:
    """The data events of a streamed answer (the test client hands its async stream over unread)."""

    async def read() -> bytes:
        return b"".join([chunk async for chunk in response.streaming_content])

    lines = asyncio.run(read()).decode().splitlines()
    return [json.loads(line[6:]) for line in lines if line.startswith("data: {")]


def llm_calls(llm) -> int:
    return len([r for r in llm.requests if r.path == "/v1/chat/completions"])


def prompts_sent(sf) -> list[str]:
    return [r.json["prompt"] for r in sf.requests if r.path == "/v1/images/generations"]


def rows() -> list[Generation]:
    return list(Generation.objects.order_by("pk"))


def test_the_same_idea_again_costs_no_optimizer_call_and_says_so(client, sf, llm, optimizer):
    first = chat(client)
    second = chat(client)

    assert first.status_code == second.status_code == 200, second.content
    assert llm_calls(llm) == 1
    assert prompts_sent(sf) == [REWRITE, REWRITE]  # the vendor drew the same rewrite both times
    assert f"Optimized prompt: {REWRITE}" in second.json()["choices"][0]["message"]["content"]
    # Honest usage: the cached rewrite used no tokens now, and only the image is paid for.
    assert second.json()["usage"] == {"prompt_tokens": 0, "completion_tokens": 0, "total_tokens": 0, "cost": 0.04}
    assert second["X-Imagegen-Cost"] == "0.040000 USD"
    assert first.json()["usage"]["prompt_tokens"] > 0
    paid, cached = rows()
    assert "optimizer: cached" not in paid.notes and paid.optimizer_prompt_tokens > 0
    assert "optimizer: cached" in cached.notes
    assert (cached.optimizer_prompt_tokens, cached.optimizer_completion_tokens, cached.optimizer_cost) == (0, 0, 0)
    assert cached.prompt == REWRITE and cached.vendor_cost == Decimal("0.04")


def test_both_endpoints_and_streams_share_the_cache(client, sf, llm, optimizer):
    assert images(client).status_code == 200
    events = stream_events(chat(client, stream=True, stream_options={"include_usage": True}))

    assert llm_calls(llm) == 1
    steps = "".join(e["choices"][0]["delta"].get("reasoning_content", "") for e in events if e["choices"])
    assert "The optimized prompt was found in the cache." in steps
    assert events[-1]["usage"]["total_tokens"] == 0
    assert prompts_sent(sf) == [REWRITE, REWRITE]
    assert "optimizer: cached" in rows()[-1].notes


def test_a_fallback_to_the_users_words_is_not_cached(client, sf, llm, optimizer):
    llm.reply = ""  # the optimizer answers with no prompt: the user's words are drawn
    chat(client)
    llm.reply = REWRITE

    answer = chat(client)

    assert llm_calls(llm) == 2
    assert prompts_sent(sf) == ["a sleepy cat", REWRITE]
    assert answer.json()["usage"]["prompt_tokens"] > 0


def test_a_failed_optimizer_call_is_not_cached(client, sf, llm, optimizer):
    llm.default_behaviour = "provider_down"
    chat(client)
    llm.default_behaviour = "ok"

    chat(client)

    assert prompts_sent(sf) == ["a sleepy cat", REWRITE]
    assert llm_calls(llm) == 2


def test_another_idea_mode_or_optimizer_model_is_a_miss(client, sf, llm, optimizer):
    chat(client)
    chat(client, "a sleepy dog")
    optimizer.mode = "reasoning"
    optimizer.save()
    chat(client)
    optimizer.model = "deepseek-reasoner"
    optimizer.save()
    chat(client)
    chat(client)  # the same as the last one: a hit

    assert llm_calls(llm) == 4
    models = [r.json["model"] for r in llm.requests if r.path == "/v1/chat/completions"]
    assert models == ["deepseek-chat", "deepseek-chat", "deepseek-chat", "deepseek-reasoner"]


def test_the_cache_is_off_at_zero_seconds(client, sf, llm, optimizer, settings):
    settings.OPTIMIZER_CACHE_SECONDS = 0

    chat(client)
    answer = chat(client)

    assert llm_calls(llm) == 2
    assert answer.json()["usage"]["prompt_tokens"] > 0
    assert "optimizer: cached" not in rows()[-1].notes


def test_the_key_is_a_hash_never_the_idea():
    request = ChatRequest(model="deepseek-chat", system="instructions", user="a secret idea")
    key = prompt_cache.cache_key("a secret idea", "fast", 1, request)

    assert "secret" not in key and len(key) == len(prompt_cache.PREFIX) + 64
    assert key != prompt_cache.cache_key("a secret idea", "fast", 1, request, style="noir")
    assert key != prompt_cache.cache_key("a secret idea", "fast", 2, request)
