"""What each answer cost, as the client hears it (X-Imagegen-Cost, usage) and as the ledger keeps it.

Real fake vendors on 127.0.0.1 (SiliconFlow for images, an OpenAI-compatible LLM for the optimizer),
the gateway's own views, the price table and the optimizer's token prices as an operator sets them.
"""

import json
from decimal import Decimal

import pytest

from imagegen.models import Generation, OptimizerSettings
from tests.factories import client_key_row, make_key, make_model, make_vendor
from tests.fakes.openai_chat import OpenAIChatFake
from vendors.models import ModelPrice

pytestmark = pytest.mark.django_db(transaction=True)

CLIENT_KEY = "client-key-for-costs-0001"


@pytest.fixture(autouse=True)
def _bootstrap_key(settings):
    client_key_row(CLIENT_KEY)


@pytest.fixture
def llm():
    with OpenAIChatFake() as fake:
        fake.reply = "a cat asleep on a windowsill, watercolour, soft morning light"
        yield fake


def price(model, amount: str, *, up_to: str | None = None, quality: str = "") -> ModelPrice:
    max_megapixels = Decimal(up_to) if up_to is not None else None
    return ModelPrice.objects.create(
        model=model, price_per_image=Decimal(amount), max_megapixels=max_megapixels, quality=quality
    )


def optimizer(llm, *, input_price: str | None = "0.27", output_price: str | None = "1.10", budget=20.0):
    vendor = make_vendor(name="optimizer", kind="openai_chat", base_url=llm.url + "/v1")
    make_key(vendor, "sk-llm-key-0001")
    OptimizerSettings(
        mode="fast",
        vendor=vendor,
        model="deepseek-chat",
        time_budget=budget,
        input_price_per_million=Decimal(input_price) if input_price else None,
        output_price_per_million=Decimal(output_price) if output_price else None,
    ).save()


def post(client, path: str, body: dict):
    return client.post(
        path, data=json.dumps(body), content_type="application/json", HTTP_AUTHORIZATION=f"Bearer {CLIENT_KEY}"
    )


def chat(client, content="a cat 1:1", **extra):
    body = {"model": "flux-schnell", "messages": [{"role": "user", "content": content}], **extra}
    return post(client, "/v1/chat/completions", body)


def images(client, prompt="a cat", **extra):
    return post(client, "/v1/images/generations", {"model": "flux-schnell", "prompt": prompt, **extra})


def ledger_row() -> Generation:
    return Generation.objects.get()


def test_a_priced_image_answers_its_cost_and_the_ledger_keeps_it(client, flux):
    price(flux, "0.04")

    response = chat(client)

    assert response.status_code == 200, response.content
    assert response["X-Imagegen-Cost"] == "0.040000 USD"
    assert response["x-litellm-response-cost"] == "0.040000"  # what LiteLLM reads as response_cost
    # No optimizer: no tokens, and the usage says so rather than counting words.
    assert response.json()["usage"] == {"prompt_tokens": 0, "completion_tokens": 0, "total_tokens": 0, "cost": 0.04}
    row = ledger_row()
    assert (row.vendor_cost, row.optimizer_cost, row.cost_currency) == (Decimal("0.04"), 0, "USD")
    assert (row.image_count, row.optimizer_prompt_tokens, row.optimizer_completion_tokens) == (1, 0, 0)


def test_n_images_cost_n_times_the_price(client, flux):
    price(flux, "0.025")

    response = images(client, n=3)

    assert response.status_code == 200, response.content
    assert len(response.json()["data"]) == 3
    assert response["X-Imagegen-Cost"] == response.json()["cost"] == "0.075000 USD"
    assert ledger_row().image_count == 3 and ledger_row().vendor_cost == Decimal("0.075")


@pytest.mark.parametrize(
    ("size", "quality", "expected"),
    [
        ("1024x1024", None, "0.030000 USD"),  # 1.0 MP: the smallest class that holds
        ("1536x1024", None, "0.050000 USD"),  # 1.5 MP
        ("1536x1024", "hd", "0.080000 USD"),  # a row for that very quality wins over "any quality"
        ("1024x1024", "HD", "0.080000 USD"),  # the quality's row, whatever its case, beats a cheaper "any" row
        ("2048x2048", None, "0.100000 USD"),  # 4 MP: only the row for any size holds
    ],
)
def test_the_size_class_and_the_quality_choose_the_price(client, flux, size, quality, expected):
    price(flux, "0.03", up_to="1.0")
    price(flux, "0.05", up_to="2.0")
    price(flux, "0.10")
    price(flux, "0.08", up_to="2.0", quality="hd")

    response = images(client, size=size, **({"quality": quality} if quality else {}))

    assert response.status_code == 200, response.content
    assert response["X-Imagegen-Cost"] == expected


def test_a_model_without_a_price_has_an_unknown_cost_never_zero(client, flux):
    response = chat(client)

    assert response.status_code == 200
    assert response["X-Imagegen-Cost"] == "unknown"
    assert "x-litellm-response-cost" not in response
    assert "cost" not in response.json()["usage"]
    assert ledger_row().vendor_cost is None and ledger_row().image_count == 1


def test_a_size_no_row_holds_for_has_an_unknown_cost(client, flux):
    price(flux, "0.03", up_to="1.0")

    response = images(client, size="2048x2048")

    assert response["X-Imagegen-Cost"] == response.json()["cost"] == "unknown"
    assert ledger_row().vendor_cost is None


def test_the_optimizers_real_tokens_are_the_usage_and_are_priced(client, flux, llm):
    price(flux, "0.04")
    optimizer(llm, input_price="0.27", output_price="1.10")

    response = chat(client, "a sleepy cat on a windowsill 1:1")

    reported = llm.usages[-1]
    assert reported["prompt_tokens"] > 50 and reported["completion_tokens"] > 5  # realistic, not a word count
    usage = response.json()["usage"]
    assert {key: usage[key] for key in reported} == reported
    llm_cost = (reported["prompt_tokens"] * Decimal("0.27") + reported["completion_tokens"] * Decimal("1.10")) / 10**6
    row = ledger_row()
    assert row.optimizer_prompt_tokens == reported["prompt_tokens"]
    assert row.optimizer_completion_tokens == reported["completion_tokens"]
    assert row.optimizer_cost == llm_cost and row.vendor_cost == Decimal("0.04")
    total = (Decimal("0.04") + llm_cost).quantize(Decimal("0.000001"))
    assert response["X-Imagegen-Cost"] == f"{total} USD"
    assert usage["cost"] == float(total)


def test_the_images_api_answers_the_optimizers_tokens_in_openais_images_usage(client, flux, llm):
    price(flux, "0.04")
    optimizer(llm)

    body = images(client).json()

    reported = llm.usages[-1]
    assert body["usage"]["input_tokens"] == reported["prompt_tokens"]
    assert body["usage"]["output_tokens"] == reported["completion_tokens"]
    assert body["usage"]["total_tokens"] == reported["total_tokens"]


def test_an_optimizer_answer_without_usage_makes_tokens_and_cost_unknown(client, flux, llm):
    price(flux, "0.04")
    optimizer(llm)
    llm.usage = "missing"

    response = chat(client)

    assert response.status_code == 200
    assert response.json()["usage"] == {"prompt_tokens": 0, "completion_tokens": 0, "total_tokens": 0}
    assert response["X-Imagegen-Cost"] == "unknown"
    row = ledger_row()
    assert row.optimizer_prompt_tokens is None and row.optimizer_cost is None and row.vendor_cost == Decimal("0.04")


def test_an_optimizer_without_token_prices_reports_its_tokens_and_an_unknown_cost(client, flux, llm):
    price(flux, "0.04")
    optimizer(llm, input_price=None, output_price=None)

    response = chat(client)

    assert response.json()["usage"]["prompt_tokens"] == llm.usages[-1]["prompt_tokens"]
    assert response["X-Imagegen-Cost"] == "unknown"
    assert ledger_row().optimizer_cost is None


def test_an_optimizer_abandoned_at_its_time_budget_leaves_its_tokens_unknown(client, flux, llm):
    price(flux, "0.04")
    optimizer(llm, budget=0.3)
    llm.latency = 1.5

    response = chat(client)

    assert response.status_code == 200
    assert response["X-Imagegen-Cost"] == "unknown"  # the LLM may still have answered, and billed
    assert ledger_row().optimizer_prompt_tokens is None


def test_a_failed_generation_costs_no_image_but_keeps_the_optimizers_cost(client, flux, sf, llm):
    price(flux, "0.04")
    optimizer(llm)
    sf.default_behaviour = "invalid"

    response = chat(client)

    assert response.status_code == 502
    row = ledger_row()
    assert row.status == "failed" and row.image_count == 0 and row.vendor_cost == 0
    assert row.optimizer_cost > 0 and row.optimizer_prompt_tokens == llm.usages[-1]["prompt_tokens"]


def test_a_fallback_is_priced_as_the_model_that_made_the_images(client, flux):
    keyless = make_vendor(name="keyless", kind="siliconflow")
    pro = make_model(keyless, name="flux-pro", fallback=flux)
    price(pro, "0.50")
    price(flux, "0.04")

    response = post(client, "/v1/images/generations", {"model": "flux-pro", "prompt": "a cat"})

    assert response.status_code == 200, response.content
    assert response.json()["model"] == "flux-schnell"
    assert response["X-Imagegen-Cost"] == "0.040000 USD"


def test_the_currency_is_the_gateways_setting(client, flux, settings):
    settings.PRICE_CURRENCY = "EUR"
    price(flux, "0.04")

    response = chat(client)

    assert response["X-Imagegen-Cost"] == "0.040000 EUR"
    assert ledger_row().cost_currency == "EUR"
