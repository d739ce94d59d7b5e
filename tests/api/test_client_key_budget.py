"""A client key's monthly budget in money, through the API: the spend is the ledger's known costs of the
key's generations this UTC month; once it has reached the budget the key gets 429 insufficient_quota,
before any vendor call. A real fake vendor counts the calls; the price table prices the images."""

import json
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest

from imagegen.client_budget import month_bounds
from imagegen.models import Generation
from tests.factories import client_key_row
from vendors.models import ModelPrice

pytestmark = pytest.mark.django_db(transaction=True)

RAW = "client-key-with-a-budget-0001"
OTHER = "client-key-with-a-budget-0002"


def images(client, key=RAW, idempotency_key=None):
    body = json.dumps({"model": "flux-schnell", "prompt": "a red fox"})
    headers = {"HTTP_AUTHORIZATION": f"Bearer {key}"}
    if idempotency_key:
        headers["HTTP_IDEMPOTENCY_KEY"] = idempotency_key
    return client.post("/v1/images/generations", body, content_type="application/json", **headers)


def streamed_chat(client):
    body = json.dumps({"model": "flux-schnell", "messages": [{"role": "user", "content": "a fox"}], "stream": True})
    headers = {"HTTP_AUTHORIZATION": f"Bearer {RAW}"}
    return client.post("/v1/chat/completions", body, content_type="application/json", **headers)


def refused_for_budget(response) -> str:
    assert response.status_code == 429, response.content
    error = response.json()["error"]
    assert (error["code"], error["type"]) == ("insufficient_quota", "insufficient_quota")
    return error["message"]


def spent(key, amount: str, *, optimizer: str | None = "0", currency="USD", **fields) -> Generation:
    """A completed ledger row of the key that cost ``amount`` (None: unpriced)."""
    return Generation.objects.create(
        client_key=key,
        client_label=key.name,
        model="flux-schnell",
        status=Generation.Status.SUCCESS,
        image_count=1,
        vendor_cost=None if amount is None else Decimal(amount),
        optimizer_cost=None if optimizer is None else Decimal(optimizer),
        cost_currency=currency,
        **fields,
    )


def test_once_the_months_spend_reaches_the_budget_the_key_is_refused_and_others_are_not(client, flux, sf):
    ModelPrice.objects.create(model=flux, price_per_image=Decimal("0.04"))
    key = client_key_row(RAW, monthly_budget=Decimal("0.08"))
    client_key_row(OTHER, name="other", monthly_budget=Decimal("0.08"))

    assert [images(client).status_code for _ in range(2)] == [200, 200]  # 0.00, then 0.04: under 0.08
    refused = images(client)

    message = refused_for_budget(refused)
    assert "spent 0.08 USD this month" in message and "monthly budget of 0.08 USD" in message
    next_month = month_bounds(datetime.now(UTC))[1]
    assert abs(int(refused["Retry-After"]) - (next_month - datetime.now(UTC)).total_seconds()) < 5
    assert f"{next_month:%Y-%m-%d} at 00:00 UTC" in message
    assert "monthly budget" in refused_for_budget(streamed_chat(client))  # a plain JSON 429, no stream
    assert len(sf.keys_used()) == 2 and Generation.objects.filter(client_key=key).count() == 2
    assert images(client, key=OTHER).status_code == 200  # another key spends its own budget

    key.monthly_budget = Decimal("0.20")  # raised in admin: the key is served again
    key.save()
    assert images(client).status_code == 200


def test_a_replay_answers_after_the_budget_is_spent_and_a_new_request_does_not(client, flux, sf):
    ModelPrice.objects.create(model=flux, price_per_image=Decimal("0.04"))
    client_key_row(RAW, monthly_budget=Decimal("0.04"))

    first = images(client, idempotency_key="order-1")
    replay = images(client, idempotency_key="order-1")

    assert (first.status_code, replay.status_code) == (200, 200)
    assert replay.json()["data"] == first.json()["data"]
    refused_for_budget(images(client, idempotency_key="order-2"))
    assert len(sf.keys_used()) == 1


def test_only_this_months_known_costs_in_the_price_currency_count_and_a_new_month_starts_afresh(client, flux, sf):
    key = client_key_row(RAW, monthly_budget=Decimal("1.00"))
    other = client_key_row(OTHER, name="other")
    start = month_bounds(datetime.now(UTC))[0]
    last_month = spent(key, "5.00")
    Generation.objects.filter(pk=last_month.pk).update(created_at=start - timedelta(seconds=1))
    spent(key, "5.00", currency="EUR")  # priced in a currency the gateway no longer uses
    spent(other, "5.00")
    spent(key, None, optimizer=None)  # no price: counts 0
    spent(key, "0.50", optimizer=None)  # the images' known cost counts, the optimizer's unknown one 0
    Generation.objects.create(client_key=key, model="flux-schnell", status=Generation.Status.PENDING)

    assert images(client).status_code == 200  # 0.50 of 1.00; this image has no price, so costs 0
    spent(key, "0.30", optimizer="0.20")
    assert "spent 1.00 USD" in refused_for_budget(images(client))

    # The month turns: the same rows are last month's now.
    Generation.objects.filter(client_key=key).update(created_at=start - timedelta(days=3))
    assert images(client).status_code == 200
    assert len(sf.keys_used()) == 2


def test_a_zero_budget_refuses_everything_and_gives_back_the_image_the_day_had_reserved(client, flux, sf):
    key = client_key_row(RAW, images_per_day=1, monthly_budget=Decimal("0"))

    assert "monthly budget of 0.00 USD" in refused_for_budget(images(client))
    assert sf.keys_used() == []

    key.monthly_budget = None
    key.save()
    assert images(client).status_code == 200  # the day's one image was given back by the refusal


def test_a_spend_that_adds_up_exactly_to_the_budget_has_reached_it(client, flux, sf):
    key = client_key_row(RAW, monthly_budget=Decimal("7.83"))
    for _ in range(29):
        spent(key, "0.27")  # SQLite sums these in floating point: 7.82999999999999

    assert "spent 7.83 USD" in refused_for_budget(images(client))
    assert sf.keys_used() == []
