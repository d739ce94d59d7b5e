"""The client decides about rewriting: prompt_optimizer (off, fast, reasoning) on both endpoints, and in chat from
a literal extra_body too, within the operator's client_modes; a mode not allowed is a 400 before anything is spent.

Real fakes on 127.0.0.1 (SiliconFlow for images, an OpenAI-compatible LLM for the optimizer), the gateway's views.
"""

from decimal import Decimal
from functools import partial

import pytest

from imagegen.models import Generation, OptimizerSettings
from tests.api import prompt_calls
from tests.api.prompt_calls import REWRITE, llm_requests
from tests.factories import client_key_row
from vendors.models import ModelPrice

pytestmark = pytest.mark.django_db(transaction=True)

CLIENT_KEY = "client-key-for-optimizer-modes-01"
chat = partial(prompt_calls.chat, key=CLIENT_KEY)
images = partial(prompt_calls.images, key=CLIENT_KEY)


@pytest.fixture(autouse=True)
def _bootstrap_key(settings):
    client_key_row(CLIENT_KEY)


@pytest.fixture
def optimizer(llm, flux):
    ModelPrice.objects.create(model=flux, price_per_image=Decimal("0.04"))
    return prompt_calls.optimizer_on(llm)


def allow(row: OptimizerSettings, client_modes: str, mode: str | None = None) -> None:
    row.client_modes = client_modes
    row.mode = mode or row.mode
    row.save()  # the signal drops this worker's settings


def prompts_sent(sf) -> list[str]:
    return [body["prompt"] for body in prompt_calls.generations_sent(sf)]


@pytest.mark.parametrize(
    "endpoint_and_body",
    [
        (images, {"prompt_optimizer": "off"}),
        (chat, {"prompt_optimizer": "off"}),
        (chat, {"extra_body": {"prompt_optimizer": "off"}}),
    ],
    ids=["images", "chat", "chat-extra-body"],
)
def test_off_by_default_allowed_sends_the_words_and_costs_no_optimizer(client, sf, llm, optimizer, endpoint_and_body):
    endpoint, body = endpoint_and_body
    answer = endpoint(client, **body)

    assert answer.status_code == 200, answer.content
    assert llm_requests(llm) == [] and prompts_sent(sf) == ["a sleepy cat"]
    row = Generation.objects.get()
    assert (row.optimizer_prompt_tokens, row.optimizer_completion_tokens, row.optimizer_cost) == (0, 0, Decimal(0))
    assert row.vendor_cost == Decimal("0.04") and "optimizer: off (the client's choice)" in row.notes
    assert answer["X-Imagegen-Cost"] == "0.040000 USD"


def test_the_operators_own_mode_may_be_asked_for(client, sf, llm, optimizer):
    assert images(client, prompt_optimizer="fast").status_code == 200
    assert prompts_sent(sf) == [REWRITE]


@pytest.mark.parametrize(
    ("client_modes", "asked", "allowed"),
    [
        ("off", "reasoning", "off, fast"),
        ("own", "off", "fast"),
        ("off_fast", "reasoning", "off, fast"),
    ],
)
@pytest.mark.parametrize("endpoint", [chat, images], ids=["chat", "images"])
def test_a_mode_not_allowed_is_a_400_naming_those_that_are(
    client, sf, llm, optimizer, client_modes, asked, allowed, endpoint
):
    allow(optimizer, client_modes)

    answer = endpoint(client, prompt_optimizer=asked)

    assert answer.status_code == 400
    error = answer.json()["error"]
    assert (error["code"], error["param"]) == ("prompt_optimizer_not_allowed", "prompt_optimizer")
    assert error["message"].endswith(f"Allowed: {allowed}.")
    assert llm.requests == [] and sf.requests == [] and not Generation.objects.exists()


def test_reasoning_when_all_are_allowed(client, sf, llm, optimizer):
    allow(optimizer, "all")
    llm.mode = "think_tags"

    assert chat(client, prompt_optimizer="reasoning").status_code == 200

    (request,) = llm_requests(llm)
    assert request["max_tokens"] == 4096 and "First work out" in request["messages"][0]["content"]
    assert prompts_sent(sf) == [REWRITE]


def test_a_client_turns_the_optimizer_on_when_the_operator_has_it_off(client, sf, llm, optimizer):
    allow(optimizer, "off_fast", mode="off")

    assert images(client).status_code == 200
    assert images(client, prompt_optimizer="fast").status_code == 200

    assert prompts_sent(sf) == ["a sleepy cat", REWRITE] and len(llm_requests(llm)) == 1
    assert Generation.objects.order_by("pk").last().optimizer_cost > 0


def test_without_an_optimizer_vendor_only_off_can_be_chosen(client, sf, optimizer):
    optimizer.mode, optimizer.vendor, optimizer.client_modes = "off", None, "all"
    optimizer.save()

    answer = images(client, prompt_optimizer="fast")

    assert answer.status_code == 400 and answer.json()["error"]["message"].endswith("Allowed: off.")
    assert images(client, prompt_optimizer="off").status_code == 200


@pytest.mark.parametrize(
    ("body", "param"),
    [({"prompt_optimizer": "turbo"}, "prompt_optimizer"), ({"extra_body": {"prompt_optimizer": 3}}, "extra_body")],
)
def test_an_unknown_mode_is_a_400(client, sf, optimizer, body, param):
    answer = chat(client, **body)

    assert answer.status_code == 400
    assert answer.json()["error"]["param"].startswith(param)
    assert sf.requests == []


def test_the_field_beats_extra_body_and_the_mode_keeps_prompt_cache_entries_apart(client, sf, llm, optimizer, settings):
    settings.OPTIMIZER_CACHE_SECONDS = 600
    allow(optimizer, "all")

    assert chat(client, prompt_optimizer="fast", extra_body={"prompt_optimizer": "off"}).status_code == 200
    assert chat(client, prompt_optimizer="reasoning").status_code == 200
    assert chat(client, prompt_optimizer="fast").status_code == 200  # the first one's rewrite, cached

    assert len(llm_requests(llm)) == 2
    assert prompts_sent(sf) == [REWRITE] * 3
