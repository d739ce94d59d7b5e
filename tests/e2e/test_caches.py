"""The caches that save money, across the two workers of `make run`, as a client of the real gateway reads
them: what one worker paid for, the other serves from the shared cache (the file cache, or Redis when
REDIS_URL is set and answers) with no LLM or vendor call. Each worker is asked through a connection it
accepted. The cost of one request through each cached path is printed.

flux-schnell has the image cache on and costs 0.04 USD an image; flux-dev, on the same vendor and price,
has it off (only the optimizer's rewrite is cached); the optimizer costs 0.27 / 1.10 USD per million
input / output tokens.
"""

from __future__ import annotations

import json
from decimal import Decimal

import httpx
import openai
import pytest

from tests.e2e.shared_caches import VARIANTS, cache_url
from tests.e2e.test_removal_reaches_workers import _worker_with_peer_port
from tests.fakes.openai_chat import OpenAIChatFake
from tests.fakes.server import png_bytes
from tests.fakes.siliconflow import SiliconFlowFake
from tests.gateway_process import GatewayProcess

pytestmark = pytest.mark.e2e

CLIENT_KEY = "e2e-caches-client-key-1357"
SETUP = """
from decimal import Decimal
from imagegen.models import OptimizerSettings
from vendors.models import ImageModel, ModelPrice
flux = ImageModel.objects.get(name="flux-schnell")
flux.image_cache_seconds = 3600
flux.save()
dev = ImageModel.objects.create(vendor=flux.vendor, name="flux-dev")
for model in (flux, dev):
    ModelPrice.objects.create(model=model, max_megapixels=Decimal("1"), price_per_image=Decimal("0.04"))
OptimizerSettings.objects.filter(pk=1).update(
    input_price_per_million=Decimal("0.27"), output_price_per_million=Decimal("1.10")
)
"""


@pytest.fixture(scope="module")
def fakes():
    sf = SiliconFlowFake(image=png_bytes(64, 64, (120, 40, 160))).start()
    llm = OpenAIChatFake().start()
    llm.reply = lambda idea: f"{idea}, oil painting, warm evening light, high detail"
    yield sf, llm
    for fake in (sf, llm):
        fake.stop()


@pytest.fixture(scope="module", params=VARIANTS)
def gateway(request, fakes, tmp_path_factory):
    redis_url = cache_url(request.param)
    sf, llm = fakes
    env = {
        "AUTHORIZED_API_KEY": CLIENT_KEY,
        "FLUX_GEN_API_BASE": sf.url + "/v1",
        "FLUX_GEN_MODEL": "flux-schnell",
        "FLUX_GEN_API_KEY": "sk-caches-sf-1111",
        "OPENAI_API_BASE": llm.url + "/v1",
        "OPENAI_API_KEY": "sk-caches-llm-2222",
        "OPENAI_MODEL": "deepseek-chat",
        "KEEPALIVE_TIMEOUT": "120",  # the per-worker connections below stay open for the whole module
        "REDIS_URL": redis_url,
    }
    with GatewayProcess(tmp_path_factory.mktemp("gateway"), env, workers=2, server="gunicorn") as process:
        process.python(SETUP)  # before the first request, so each worker's routing table has it
        yield process


@pytest.fixture(scope="module")
def workers(gateway):
    """One open connection to each of the two workers."""
    by_worker: dict[int, httpx.Client] = {}
    spare: list[httpx.Client] = []
    for _ in range(60):
        client = httpx.Client(base_url=gateway.url, timeout=30, headers={"Authorization": f"Bearer {CLIENT_KEY}"})
        response = client.get("/health")
        worker = _worker_with_peer_port(gateway, response.extensions["network_stream"].get_extra_info("client_addr")[1])
        if worker is not None and worker not in by_worker:
            by_worker[worker] = client
        else:
            spare.append(client)
        if len(by_worker) == 2:
            break
    for client in spare:
        client.close()
    assert len(by_worker) == 2, "could not reach both workers"
    yield list(by_worker.values())
    for client in by_worker.values():
        client.close()


def calls(fakes) -> tuple[int, int]:
    """(optimizer calls, image vendor calls) so far."""
    sf, llm = fakes
    count = lambda fake, path: len([r for r in fake.requests if r.path == path])  # noqa: E731
    return count(llm, "/v1/chat/completions"), count(sf, "/v1/images/generations")


def chat(client: httpx.Client, idea: str, model: str = "flux-schnell") -> httpx.Response:
    body = {"model": model, "messages": [{"role": "user", "content": idea}]}
    response = client.post("/v1/chat/completions", json=body)
    assert response.status_code == 200, response.text
    return response


def paid(usage: dict, images: int = 1) -> str:
    tokens = usage["prompt_tokens"] * Decimal("0.27") + usage["completion_tokens"] * Decimal("1.10")
    return f"{(images * Decimal('0.04') + tokens / 1_000_000).quantize(Decimal('0.000001'))} USD"


def first_line(response: httpx.Response) -> str:
    return response.json()["choices"][0]["message"]["content"].split("\n")[0]


def test_what_one_worker_paid_for_the_other_serves_for_nothing(workers, fakes, capsys):
    one, other = workers
    before = calls(fakes)

    bought = chat(one, "a fox in a birch forest")
    cached = chat(other, "a fox in a birch forest")

    assert calls(fakes) == (before[0] + 1, before[1] + 1)  # one LLM call and one vendor call in all
    assert bought.headers["x-imagegen-cost"] == paid(bought.json()["usage"])
    assert cached.headers["x-imagegen-cost"] == "0.000000 USD" and cached.headers["x-imagegen-cache"] == "hit"
    assert cached.json()["usage"] == {"prompt_tokens": 0, "completion_tokens": 0, "total_tokens": 0, "cost": 0.0}
    assert first_line(cached) == first_line(bought)  # the same image URL
    assert "Note: From the image cache" in cached.json()["choices"][0]["message"]["content"]
    assert httpx.get(first_line(cached)[len("![image](") : -1]).status_code == 200
    with capsys.disabled():
        print(f"\nplain, paid: X-Imagegen-Cost: {bought.headers['x-imagegen-cost']}")
        print(f"plain, both caches hit (other worker): X-Imagegen-Cost: {cached.headers['x-imagegen-cost']}")


def test_the_optimizer_cache_alone_leaves_only_the_image_to_pay(workers, fakes, capsys):
    one, other = workers
    before = calls(fakes)

    chat(one, "a heron at dawn", model="flux-dev")
    second = chat(other, "a heron at dawn", model="flux-dev")

    assert calls(fakes) == (before[0] + 1, before[1] + 2)  # the image cache is off for flux-dev
    assert second.headers["x-imagegen-cost"] == "0.040000 USD" and "x-imagegen-cache" not in second.headers
    assert second.json()["usage"]["total_tokens"] == 0
    with capsys.disabled():
        print(f"\nplain, optimizer cache hit only: X-Imagegen-Cost: {second.headers['x-imagegen-cost']}")


def test_a_streamed_request_from_the_caches_costs_nothing(workers, fakes, gateway, capsys):
    chat(workers[0], "a lantern on a jetty")
    before = calls(fakes)
    client = openai.OpenAI(base_url=gateway.url + "/v1", api_key=CLIENT_KEY, max_retries=0, timeout=60)

    chunks = list(
        client.chat.completions.create(
            model="flux-schnell",
            messages=[{"role": "user", "content": "a lantern on a jetty"}],
            stream=True,
            stream_options={"include_usage": True},
        )
    )

    assert calls(fakes) == before
    [finish] = [chunk for chunk in chunks if chunk.choices and chunk.choices[0].finish_reason == "stop"]
    assert finish.to_dict()["cost"] == "0.000000 USD" and finish.to_dict()["cache"] == "hit"
    assert chunks[-1].usage.total_tokens == 0
    with capsys.disabled():
        print(
            f"\nstreamed, both caches hit: finish chunk cost {finish.to_dict()['cost']}; "
            f"usage {json.dumps(chunks[-1].usage.to_dict())}"
        )


def test_an_images_request_from_the_caches_costs_nothing(workers, fakes, gateway, capsys):
    client = openai.OpenAI(base_url=gateway.url + "/v1", api_key=CLIENT_KEY, max_retries=0, timeout=60)
    first = client.images.with_raw_response.generate(model="flux-schnell", prompt="two owls on a branch", n=2)
    before = calls(fakes)

    again = client.images.with_raw_response.generate(model="flux-schnell", prompt="two owls on a branch", n=2)

    assert calls(fakes) == before
    assert [item.url for item in again.parse().data] == [item.url for item in first.parse().data]
    assert again.headers["x-imagegen-cost"] == "0.000000 USD" and again.headers["x-imagegen-cache"] == "hit"
    with capsys.disabled():
        print(f"\nimages n=2: paid {first.headers['x-imagegen-cost']}; cached {again.headers['x-imagegen-cost']}")
