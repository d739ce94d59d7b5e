"""The faults of ``tests.faults.matrix`` against the ninth kind, ``openai_chat``: the prompt optimizer's LLM.

The optimizer never stands between a client and its image: whatever the LLM does, the image is made from
the user's own words and answered 200. What the fault changes is the LLM's keys, exactly as it would an
image vendor's (disabled, resting, on a failing streak, untouched), whether its other key was tried (each at
most once), and the log; none of it may carry a key, the LLM's URL or an internal address.
"""

from __future__ import annotations

import pytest

from imagegen.models import Generation, OptimizerSettings
from tests.factories import make_key, make_model, make_vendor
from tests.fakes.image_host import FakeImageHost
from tests.fakes.profile import profile_of
from tests.fakes.siliconflow import SiliconFlowFake
from tests.faults.checks import (
    addresses_of,
    assert_free_of,
    assert_keys,
    everything_in,
    generate,
    keyed_vendor,
    secrets_of,
    stored_texts,
    submits,
)
from tests.faults.matrix import CHAT_ROWS, Stage

PROMPT = "a violet kite over the sea"  # what generate() asks for


@pytest.mark.parametrize("row", CHAT_ROWS, ids=[f"openai_chat-{row.fault}" for row in CHAT_ROWS])
def test_optimizer_fault(row, client, settings, monkeypatch, transactional_db, log_text, dead_port):
    profile, expect = profile_of("openai_chat"), row.expect_for("openai_chat")
    with profile.fake() as llm, SiliconFlowFake() as images, FakeImageHost() as elsewhere:
        stage = Stage("openai_chat", llm, settings, monkeypatch, elsewhere=f"{elsewhere.url}/image.png")
        row.arrange(stage)
        keyed = keyed_vendor(stage, profile, dead_port, name="llm")
        OptimizerSettings(mode="fast", vendor=keyed.vendor, model=profile.model, time_budget=10.0).save()
        image_vendor = make_vendor(name="sf", kind="siliconflow", base_url=images.url + "/v1", timeout=5.0)
        make_key(image_vendor, "sk-image-vendor-key-0001", label="img")
        make_model(image_vendor, name="the-model", upstream_name="black-forest-labs/FLUX.1-schnell")

        response = generate(client)

        assert response.status_code == 200, response.content
        generation = Generation.objects.get()
        assert (generation.status, generation.prompt) == (Generation.Status.SUCCESS, PROMPT)
        assert [(a.vendor_name, a.outcome) for a in generation.attempts.all()] == [("sf", "ok")]
        assert images.requests[0].json["prompt"] == PROMPT  # the user's own words
        sent = submits(llm)
        assert len(sent) == (expect.tried if expect.sent else 0), sent
        assert len(set(sent)) == len(sent)  # no key was sent the same request twice
        tried = [key.label for key, token in zip(keyed.keys, keyed.tokens, strict=True) if token in sent]
        assert_keys(keyed.keys, tried if expect.sent else [key.label for key in keyed.keys], expect)
        assert "prompt optimizer failed" in log_text.getvalue()
        follow_up = None
        if expect.keys in ("disabled", "cooling") and expect.tried == 2:
            follow_up = generate(client)  # no LLM key is left: the user's words at once, no LLM call
            assert follow_up.status_code == 200, follow_up.content
            assert len(submits(llm)) == len(sent)
        secrets, addresses = secrets_of(keyed, llm), addresses_of(llm, elsewhere.port, dead_port)
        for answer in filter(None, [response, follow_up]):
            assert_free_of(everything_in(answer), [*secrets, *addresses])
        assert_free_of(log_text.getvalue(), [*secrets, *addresses])
        assert_free_of(stored_texts(), [*secrets, llm.url])
