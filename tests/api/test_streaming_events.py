"""The streamed answer's events, from the generator itself with a stand-in pipeline (no server needed)."""

import asyncio
import json
from decimal import Decimal

import pytest
from django.test import RequestFactory

from core.errors import GatewayError
from imagegen import pipeline
from imagegen.api import streaming
from imagegen.costs import Cost, OptimizerUsage
from proxy.models import StoredImage
from tests.factories import TEST_CALLER, make_route

GENERATION = pipeline.GenerationRequest(route=make_route(), idea="a cat", caller=TEST_CALLER)


def collect(monkeypatch, generate, *, include_usage=False, stop_after=None):
    monkeypatch.setattr(pipeline, "generate", generate)
    request = RequestFactory().post("/v1/chat/completions")

    async def run():
        events = []
        stream = streaming.chat_events(request, GENERATION, "chatcmpl-test", include_usage)
        async for event in stream:
            events.append(event.decode())
            if stop_after is not None and len(events) == stop_after:
                await asyncio.sleep(0.05)  # the generation is under way
                await stream.aclose()  # what Django does when the client hangs up
                break
        return events

    return asyncio.run(run())


def data(events):
    return [json.loads(event[6:]) for event in events if event.startswith("data: {")]


def test_heartbeats_fill_every_silence_longer_than_the_setting(monkeypatch, settings):
    settings.STREAM_HEARTBEAT_SECONDS = 0.05

    async def slow_failure(request):
        request.progress("Generating with flux-schnell, 1:1 (1024x1024).")
        await asyncio.sleep(0.3)
        raise GatewayError("Model 'flux-schnell' could not generate the image.", status=502, code="upstream_error")

    events = collect(monkeypatch, slow_failure)

    assert events[0].startswith("data: ") and '"role":"assistant"' in events[0]
    assert '"reasoning_content":"Generating with flux-schnell, 1:1 (1024x1024).\\n"' in events[1]
    assert events.count(": keep-alive\n\n") >= 3
    *_, error, done = events
    assert json.loads(error[6:]) == {
        "error": {
            "message": "Model 'flux-schnell' could not generate the image.",
            "type": "server_error",
            "param": None,
            "code": "upstream_error",
        }
    }
    assert done == "data: [DONE]\n\n"


def test_an_unexpected_error_ends_the_stream_with_a_generic_error_and_is_logged(monkeypatch, caplog):
    async def broken(request):
        raise RuntimeError("secret internals")

    events = collect(monkeypatch, broken)

    error = data(events)[-1]["error"]
    assert error["code"] == "internal_error" and "secret" not in error["message"]
    assert events[-1] == "data: [DONE]\n\n"
    assert "secret internals" in caplog.text


def test_a_stream_closed_early_cancels_the_generation(monkeypatch):
    seen = {}

    async def forever(request):
        try:
            await asyncio.sleep(30)
        except asyncio.CancelledError:
            seen["cancelled"] = True
            raise

    events = collect(monkeypatch, forever, stop_after=1)

    assert len(events) == 1
    assert seen == {"cancelled": True}


@pytest.mark.parametrize("include_usage", [False, True])
def test_a_success_ends_with_the_content_the_finish_the_usage_when_asked_and_done(monkeypatch, include_usage):
    async def made(request):
        image = StoredImage(token="tok123", extension="png", width=64, height=36)
        return pipeline.GenerationOutcome(
            model="flux-schnell",
            requested_model="flux-schnell",
            vendor="sf",
            prompt="a cat",
            optimized=False,
            requested_size="64x36",
            size="64x36",
            images=[image],
            usage=OptimizerUsage(120, 35, Decimal("0.0000645")),
            cost=Cost(vendor=Decimal("0.04"), optimizer=Decimal("0.0000645"), currency="USD"),
        )

    events = collect(monkeypatch, made, include_usage=include_usage)

    chunks = data(events)
    finish = chunks[-2 if include_usage else -1]
    assert finish["choices"][0]["finish_reason"] == "stop"
    assert finish["cost"] == "0.040065 USD"  # what X-Imagegen-Cost says on answers that are not streamed
    content = chunks[-3 if include_usage else -2]["choices"][0]["delta"]["content"]
    assert content.startswith("![image](http://testserver/images/tok123.png)")
    assert "Model: flux-schnell · Size: 64x36" in content
    if include_usage:
        assert chunks[-1]["choices"] == []
        assert chunks[-1]["usage"] == {
            "prompt_tokens": 120,
            "completion_tokens": 35,
            "total_tokens": 155,
            "cost": 0.040065,
        }
    else:
        assert not any("usage" in chunk for chunk in chunks)
    assert events[-1] == "data: [DONE]\n\n"
