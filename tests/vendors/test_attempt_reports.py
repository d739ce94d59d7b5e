"""The vendor layer reports each call with a key to an observer: before it is sent, then its outcome."""

import asyncio

import pytest

from core.http import close_client
from tests.factories import make_key, make_model, make_vendor
from tests.fakes.siliconflow import SiliconFlowFake
from vendors import errors
from vendors.adapters.base import ImageRequest
from vendors.selectors import build_routing_table
from vendors.services import Attempt, generate_images

pytestmark = pytest.mark.django_db(transaction=True)


class Witness:
    """An observer that notes, for each attempt, how many calls the vendor had received when it heard of it."""

    def __init__(self, fake):
        self.fake = fake
        self.heard: list[tuple[Attempt, int]] = []

    async def attempt_started(self, attempt: Attempt) -> None:
        assert attempt.outcome == "" and attempt.ended_at is None
        self.heard.append((attempt, len(self.fake.requests)))


def make_images(fake, witness, n=1, labels=("k1", "k2", "k3")):
    vendor = make_vendor(name="sf", kind="siliconflow", base_url=fake.url + "/v1", timeout=2.0)
    for label in labels:
        make_key(vendor, f"sk-{label}-secret-0001", label=label)
    make_model(vendor, name="flux-schnell", upstream_name="black-forest-labs/FLUX.1-schnell")
    route = build_routing_table().models["flux-schnell"]

    async def main():
        try:
            return await generate_images(route, ImageRequest(prompt="a kite", model=route.upstream_name, n=n), witness)
        finally:
            await close_client()

    return asyncio.run(main())


def test_each_key_tried_is_reported_before_its_request_reaches_the_vendor():
    with SiliconFlowFake() as fake:
        fake.default_behaviour = "invalid"
        fake.keys = {"sk-k1-secret-0001": "ok"}
        witness = Witness(fake)
        make_images(fake, witness)

    assert [seen for _, seen in witness.heard] == list(range(len(witness.heard)))  # never after the call went out
    *refused, served = [attempt for attempt, _ in witness.heard]
    assert [(attempt.outcome, attempt.sent) for attempt in refused] == [("upstream_key_rejected", True)] * len(refused)
    assert (served.key_label, served.outcome, served.sent, served.model) == ("k1", "ok", True, "flux-schnell")
    assert all(attempt.ended_at >= attempt.started_at for attempt, _ in witness.heard)


def test_the_calls_of_n_images_are_one_attempt_each_with_the_images_they_asked_for():
    with SiliconFlowFake() as fake:
        fake.default_behaviour = "single"  # FLUX ignores batch_size: the missing images are topped up one by one
        witness = Witness(fake)
        made = make_images(fake, witness, n=3)

    assert len(made.images) == 3
    assert [attempt.n for attempt, _ in witness.heard] == [3, 1, 1]
    assert {attempt.outcome for attempt, _ in witness.heard} == {"ok"}


def test_a_vendor_that_cannot_be_reached_is_reported_as_never_sent():
    with SiliconFlowFake() as fake:
        witness = Witness(fake)
        fake.stop()
        with pytest.raises(errors.AllKeysFailed):
            make_images(fake, witness)

    assert [(attempt.outcome, attempt.sent) for attempt, _ in witness.heard] == [("upstream_unavailable", False)] * 3
