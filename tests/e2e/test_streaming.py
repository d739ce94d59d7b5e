"""Streamed chat completions against the real server: uvicorn in a subprocess, fake vendors on 127.0.0.1,
the official ``openai`` package and raw SSE reads."""

from __future__ import annotations

import json
import re
import time

import httpx
import openai
import pytest

from tests.fakes.chat_image import ChatImageFake
from tests.fakes.fal import FalFake
from tests.fakes.server import png_bytes
from tests.fakes.siliconflow import SiliconFlowFake
from tests.gateway_process import GatewayProcess

pytestmark = pytest.mark.e2e

CLIENT_KEY = "e2e-stream-client-key-4321"
IMAGE_LINK = re.compile(r"!\[image\]\((?P<url>[^)]+)\)")
LATENCY = 1.2
HEARTBEAT = 0.25


@pytest.fixture(scope="module")
def fakes():
    sf = SiliconFlowFake(image=png_bytes(64, 36, (0, 120, 250))).start()
    broken = ChatImageFake(mode="images_array").start()
    broken.default_behaviour = "provider_down"
    queue = FalFake().start()
    queue.default_behaviour = "never"
    yield sf, broken, queue
    for fake in (sf, broken, queue):
        fake.stop()


@pytest.fixture(scope="module")
def gateway(fakes, tmp_path_factory):
    sf, broken, queue = fakes
    env = {
        "AUTHORIZED_API_KEY": CLIENT_KEY,
        "STREAM_HEARTBEAT_SECONDS": str(HEARTBEAT),
        "FLUX_GEN_API_BASE": sf.url + "/v1",
        "FLUX_GEN_MODEL": "flux-schnell",
        "FLUX_GEN_API_KEY": "sk-stream-sf-1111",
        "IMAGE_GEN_API_BASE_1": broken.url + "/v1",
        "IMAGE_GEN_MODEL_1": "always-down",
        "IMAGE_GEN_API_KEY_1": "sk-stream-down-2222",
        "IMAGE_GEN_API_BASE_2": queue.url,
        "IMAGE_GEN_KIND_2": "fal",
        "IMAGE_GEN_MODEL_2": "queued=fal-ai/flux/schnell",
        "IMAGE_GEN_API_KEY_2": "fal-stream-3333",
    }
    with GatewayProcess(tmp_path_factory.mktemp("gateway"), env) as process:
        yield process


@pytest.fixture
def sf(fakes):
    sf = fakes[0]
    sf.latency = LATENCY
    yield sf
    sf.latency = 0.0


@pytest.fixture
def client(gateway):
    return openai.OpenAI(base_url=gateway.url + "/v1", api_key=CLIENT_KEY, max_retries=0, timeout=60)


def raw_events(gateway, body: dict) -> list[tuple[float, str]]:
    """Every SSE line block as (seconds since the request, text), comments included."""
    events, started = [], time.monotonic()
    headers = {"Authorization": f"Bearer {CLIENT_KEY}"}
    with httpx.stream("POST", gateway.url + "/v1/chat/completions", json=body, headers=headers, timeout=30) as reply:
        assert reply.status_code == 200
        assert reply.headers["content-type"].startswith("text/event-stream")
        buffer = ""
        for text in reply.iter_text():
            buffer += text
            while "\n\n" in buffer:
                block, buffer = buffer.split("\n\n", 1)
                events.append((time.monotonic() - started, block))
    return events


def data_of(events) -> list:
    return [
        json.loads(block[6:]) if block != "data: [DONE]" else "[DONE]"
        for _, block in events
        if block.startswith("data: ")
    ]


def without_urls(content: str) -> str:
    return IMAGE_LINK.sub("![image](URL)", content)


def test_the_streaming_client_assembles_the_same_content_as_the_plain_call(client, sf):
    messages = [{"role": "user", "content": "a harbour at dawn 16:9"}]

    plain = client.chat.completions.create(model="flux-schnell", messages=messages).choices[0].message.content
    content, roles, finishes = "", [], []
    for chunk in client.chat.completions.create(model="flux-schnell", messages=messages, stream=True):
        for choice in chunk.choices:
            content += choice.delta.content or ""
            roles += [choice.delta.role] if choice.delta.role else []
            finishes += [choice.finish_reason] if choice.finish_reason else []

    assert without_urls(content) == without_urls(plain)
    assert "Model: flux-schnell · Size: 64x36" in content
    assert roles == ["assistant"] and finishes == ["stop"]
    assert httpx.get(IMAGE_LINK.search(content)["url"]).content == sf.image


def test_the_stream_opens_at_once_reports_progress_beats_while_waiting_and_ends_with_done(gateway, sf):
    body = {
        "model": "flux-schnell",
        "stream": True,
        "stream_options": {"include_usage": True},
        "messages": [{"role": "user", "content": "a harbour at dawn 16:9"}],
    }

    events = raw_events(gateway, body)

    first_at, first = events[0]
    assert json.loads(first[6:])["choices"][0]["delta"]["role"] == "assistant"
    assert first_at < LATENCY  # before the vendor answered
    beats = [at for at, block in events if block.startswith(":")]
    assert len(beats) >= 3
    gaps = [later - earlier for earlier, later in zip([first_at, *beats], beats, strict=False)]
    assert max(gaps) < HEARTBEAT * 4
    data = data_of(events)
    steps = "".join(
        chunk["choices"][0]["delta"].get("reasoning_content", "")
        for chunk in data[:-1]
        if chunk != "[DONE]" and chunk["choices"]
    )
    assert "Generating with flux-schnell, 16:9 (1024x576)." in steps and "Storing the image." in steps
    *_, content_chunk, finish, usage, done = data
    assert IMAGE_LINK.search(content_chunk["choices"][0]["delta"]["content"])
    assert finish["choices"][0]["finish_reason"] == "stop" and finish["choices"][0]["delta"] == {}
    assert finish["cost"] == "unknown"  # flux-schnell has no price here
    # No optimizer: no tokens, said as 0 rather than a word count.
    assert usage["choices"] == [] and usage["usage"] == {"prompt_tokens": 0, "completion_tokens": 0, "total_tokens": 0}
    assert done == "[DONE]"
    assert len({chunk["id"] for chunk in data if chunk != "[DONE]"}) == 1


def test_a_failure_after_the_stream_began_ends_it_with_an_error_event_and_done(gateway, client):
    body = {"model": "always-down", "stream": True, "messages": [{"role": "user", "content": "a boat"}]}

    data = data_of(raw_events(gateway, body))

    assert data[0]["choices"][0]["delta"]["role"] == "assistant"
    error = data[-2]["error"]
    assert error["code"] in {"upstream_error", "no_available_key"} and error["type"]
    assert "always-down" in error["message"] and "sk-stream" not in error["message"]
    assert data[-1] == "[DONE]"
    with pytest.raises(openai.APIError) as caught:
        for _ in client.chat.completions.create(model="always-down", messages=body["messages"], stream=True):
            pass
    assert "always-down" in caught.value.message


def test_errors_found_before_the_stream_starts_are_plain_http_errors(client):
    with pytest.raises(openai.NotFoundError):
        client.chat.completions.create(model="no-such-model", messages=[{"role": "user", "content": "x"}], stream=True)


def test_a_client_that_hangs_up_cancels_the_vendor_call(gateway, sf):
    sf.latency = 8.0
    calls_before = len(sf.requests)
    body = {"model": "flux-schnell", "stream": True, "messages": [{"role": "user", "content": "a slow boat"}]}
    headers = {"Authorization": f"Bearer {CLIENT_KEY}"}
    with httpx.stream("POST", gateway.url + "/v1/chat/completions", json=body, headers=headers, timeout=30) as reply:
        lines = reply.iter_lines()  # kept: dropping a half-read iterator closes the connection
        assert next(lines).startswith("data: ")
        deadline = time.monotonic() + 5
        while sf.in_flight == 0 and time.monotonic() < deadline:
            time.sleep(0.05)
        assert sf.in_flight == 1  # the vendor is working on it
    # The client is gone; the gateway drops its upstream call well before the vendor would answer.
    deadline = time.monotonic() + 4
    while sf.in_flight and time.monotonic() < deadline:
        time.sleep(0.05)
    assert sf.in_flight == 0
    assert len([r for r in sf.requests[calls_before:] if r.path == "/v1/images/generations"]) == 1


def test_a_client_that_hangs_up_gets_its_queued_job_cancelled_at_the_vendor(gateway, fakes):
    queue = fakes[2]
    body = {"model": "queued", "stream": True, "messages": [{"role": "user", "content": "a queued boat"}]}
    headers = {"Authorization": f"Bearer {CLIENT_KEY}"}
    with httpx.stream("POST", gateway.url + "/v1/chat/completions", json=body, headers=headers, timeout=30) as reply:
        lines = reply.iter_lines()
        deadline = time.monotonic() + 5
        while not any(r.path.endswith("/status") for r in queue.requests) and time.monotonic() < deadline:
            next(lines)  # the job was submitted and is being polled; heartbeats keep coming meanwhile
    deadline = time.monotonic() + 5
    while not queue.cancelled and time.monotonic() < deadline:
        time.sleep(0.05)
    submitted = [r for r in queue.requests if r.method == "POST"]
    assert len(submitted) == 1 and len(queue.cancelled) == 1
