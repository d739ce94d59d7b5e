"""The cost of a request through each path, as a client of the real gateway reads it: uvicorn in a
subprocess, fake SiliconFlow and a fake optimizer LLM that reports its tokens, the official ``openai``
package. flux-schnell costs 0.04 USD an image up to 1 MP, and the optimizer 0.27 / 1.10 USD per million
input / output tokens."""

from __future__ import annotations

import json
from decimal import Decimal

import openai
import pytest

from tests.fakes.openai_chat import OpenAIChatFake
from tests.fakes.server import png_bytes
from tests.fakes.siliconflow import SiliconFlowFake
from tests.gateway_process import GatewayProcess

pytestmark = pytest.mark.e2e

CLIENT_KEY = "e2e-costs-client-key-2468"
MESSAGES = [{"role": "user", "content": "a lighthouse in fog 1:1"}]
PRICES = """
from decimal import Decimal
from imagegen.models import OptimizerSettings
from vendors.models import ImageModel, ModelPrice
ModelPrice.objects.create(
    model=ImageModel.objects.get(name="flux-schnell"), max_megapixels=Decimal("1"), price_per_image=Decimal("0.04")
)
OptimizerSettings.objects.filter(pk=1).update(
    input_price_per_million=Decimal("0.27"), output_price_per_million=Decimal("1.10")
)
"""


@pytest.fixture(scope="module")
def fakes():
    sf = SiliconFlowFake(image=png_bytes(64, 64, (20, 90, 160))).start()
    llm = OpenAIChatFake().start()
    llm.reply = "a lighthouse on a rocky coast wrapped in fog, muted colours, soft diffuse light"
    yield sf, llm
    for fake in (sf, llm):
        fake.stop()


@pytest.fixture(scope="module")
def gateway(fakes, tmp_path_factory):
    sf, llm = fakes
    env = {
        "AUTHORIZED_API_KEY": CLIENT_KEY,
        "FLUX_GEN_API_BASE": sf.url + "/v1",
        "FLUX_GEN_MODEL": "flux-schnell",
        "FLUX_GEN_API_KEY": "sk-costs-sf-1111",
        "OPENAI_API_BASE": llm.url + "/v1",
        "OPENAI_API_KEY": "sk-costs-llm-2222",
        "OPENAI_MODEL": "deepseek-chat",
        # Every request here pays the optimizer: the cached path is measured in test_caches.py.
        "OPTIMIZER_CACHE_SECONDS": "0",
    }
    with GatewayProcess(tmp_path_factory.mktemp("gateway"), env) as process:
        process.python(PRICES)  # before the first request, so the worker's routing table has them
        yield process


@pytest.fixture
def client(gateway):
    return openai.OpenAI(base_url=gateway.url + "/v1", api_key=CLIENT_KEY, max_retries=0, timeout=60)


def expected(usage: dict, images: int = 1) -> Decimal:
    tokens = usage["prompt_tokens"] * Decimal("0.27") + usage["completion_tokens"] * Decimal("1.10")
    return (images * Decimal("0.04") + tokens / 1_000_000).quantize(Decimal("0.000001"))


def test_a_plain_completion_carries_its_cost_in_headers_and_the_optimizers_tokens_as_usage(client, fakes, capsys):
    _, llm = fakes

    raw = client.chat.completions.with_raw_response.create(model="flux-schnell", messages=MESSAGES)

    reply, reported = raw.parse(), llm.usages[-1]
    cost = expected(reported)
    assert raw.headers["x-imagegen-cost"] == f"{cost} USD"
    assert raw.headers["x-litellm-response-cost"] == str(cost)
    assert (reply.usage.prompt_tokens, reply.usage.completion_tokens) == (
        reported["prompt_tokens"],
        reported["completion_tokens"],
    )
    assert reply.usage.total_tokens == reported["total_tokens"]
    with capsys.disabled():
        print(f"\nplain: X-Imagegen-Cost: {raw.headers['x-imagegen-cost']}; usage {reply.usage.model_dump()}")


def test_a_streamed_completion_carries_its_cost_in_the_finish_chunk_and_the_usage_chunk(client, fakes, capsys):
    _, llm = fakes

    chunks = list(
        client.chat.completions.create(
            model="flux-schnell", messages=MESSAGES, stream=True, stream_options={"include_usage": True}
        )
    )

    cost = expected(llm.usages[-1])
    [finish] = [chunk for chunk in chunks if chunk.choices and chunk.choices[0].finish_reason == "stop"]
    assert finish.to_dict()["cost"] == f"{cost} USD"
    usage = chunks[-1].usage
    assert usage.prompt_tokens == llm.usages[-1]["prompt_tokens"]
    assert Decimal(str(usage.to_dict()["cost"])) == cost
    with capsys.disabled():
        print(f"\nstreamed: finish chunk cost {finish.to_dict()['cost']}; usage {json.dumps(usage.to_dict())}")


def test_an_images_request_carries_its_cost_and_the_optimizers_tokens(client, fakes, capsys):
    _, llm = fakes

    raw = client.images.with_raw_response.generate(model="flux-schnell", prompt="a lighthouse in fog", n=2)

    answer = raw.parse()
    cost = expected(llm.usages[-1], images=2)
    assert raw.headers["x-imagegen-cost"] == f"{cost} USD" and len(answer.data) == 2
    assert answer.usage.input_tokens == llm.usages[-1]["prompt_tokens"]
    with capsys.disabled():
        print(f"\nimages n=2: X-Imagegen-Cost: {raw.headers['x-imagegen-cost']}")
