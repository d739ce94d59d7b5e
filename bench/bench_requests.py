"""The requests the scenarios send: chat completions to the gateway and, to compare, the vendor calls
one completion makes (the generation, then the download of the image it names)."""

from __future__ import annotations

import itertools
import json
import re

import aiohttp

MODEL = "bench-model"
OPTIMIZER_MODEL = "bench-llm"
PROMPT = "a lighthouse 16:9"
IDEAS = itertools.count(1)  # one count for the whole run: no idea is sent twice
IMAGE_LINK = re.compile(r"!\[image\]\((http://127\.0\.0\.1:\d+/images/[A-Za-z0-9_-]+\.png)\)")


def chat_check(status: int, body: bytes) -> bool:
    if status != 200:
        return False
    try:
        content = json.loads(body)["choices"][0]["message"]["content"]
    except (ValueError, KeyError, IndexError, TypeError):
        return False
    return isinstance(content, str) and content.startswith("![image](")


def chat_request(gateway_url: str, client_key: str, *, stream: bool = False):
    """Each request a different idea (a number added), so the optimizer's cache of rewrites never answers:
    every completion pays the optimizer call, as distinct ideas from real clients do."""
    url = gateway_url + "/v1/chat/completions"
    headers = {"Authorization": f"Bearer {client_key}"}

    def send(session):
        body = {"model": MODEL, "messages": [{"role": "user", "content": f"{PROMPT}, number {next(IDEAS)}"}]}
        if stream:
            body["stream"] = True
        return session.post(url, json=body, headers=headers)

    return send


def fake_generate_request(fake_url: str):
    url = fake_url + "/v1/images/generations"
    headers = {"Authorization": "Bearer k1"}
    body = {"model": MODEL, "prompt": PROMPT, "image_size": "1024x576", "batch_size": 1}
    return lambda session: session.post(url, json=body, headers=headers)


def fake_optimize_request(fake_url: str):
    url = fake_url + "/v1/chat/completions"
    headers = {"Authorization": "Bearer llm-k1"}
    body = {
        "model": OPTIMIZER_MODEL,
        "messages": [{"role": "system", "content": "Rewrite the idea."}, {"role": "user", "content": PROMPT}],
    }
    return lambda session: session.post(url, json=body, headers=headers)


def fake_vendor_round_trip(fake_url: str):
    """What the gateway asks of the vendors per chat completion: the optimizer's rewrite, the generation,
    then the image download."""
    optimize, generate = fake_optimize_request(fake_url), fake_generate_request(fake_url)

    async def steps(session: aiohttp.ClientSession) -> tuple[int, bool, str]:
        async with optimize(session) as response:
            await response.read()
            if response.status != 200:
                return response.status, False, "optimizer"
        async with generate(session) as response:
            payload = await response.json(content_type=None)
            if response.status != 200:
                return response.status, False, json.dumps(payload)[:300]
        async with session.get(payload["images"][0]["url"]) as response:
            body = await response.read()
            return response.status, response.status == 200 and len(body) > 0, ""

    return steps
