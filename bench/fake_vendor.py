"""A standalone fake SiliconFlow vendor for the benchmarks, with settable latency.

    .venv/bin/python bench/fake_vendor.py --port 9100 --latency 0 --image-kb 200

Routes (all on 127.0.0.1):

- ``POST /v1/images/generations``: sleeps ``latency`` seconds, then answers SiliconFlow's shape,
  ``{"images": [{"url": "<self>/files/<name>.png"}, ...], "seed": 1}`` (``batch_size`` URLs).
- ``POST /v1/chat/completions``: the prompt optimizer's LLM in OpenAI's chat shape; sleeps
  ``optimizer_latency`` seconds, then answers the last user message rewritten, with token usage.
- ``GET /files/<name>``: the PNG made at startup (random RGB noise, so it does not compress; about
  ``--image-kb`` KB) with a text chunk of the name's hash before its end: every generation's image is
  new bytes, as a real vendor's are, and every file is the same size (``image_bytes``).
- ``POST /latency`` with ``{"latency": 5, "optimizer_latency": 0.5}``: change the latencies (the
  optimizer's is optional); answers the new values.
- ``GET /health``: ``{"ok": true, "latency": ..., "image_bytes": ...}``.

No access log, no per-request bookkeeping beyond a counter: the fake should cost as little CPU as
possible, since it shares the machine with the gateway and the load client.
"""

from __future__ import annotations

import argparse
import asyncio
import hashlib
import io
import itertools
import json
import math
import os
import signal
import struct
import sys
import zlib

from aiohttp import web
from PIL import Image


def noise_png(target_kb: float) -> bytes:
    """A random-noise RGB PNG of about ``target_kb`` KB (noise does not compress: ~3 bytes/pixel)."""
    target = int(target_kb * 1024)
    side = max(8, int(math.sqrt(target / 3)))
    for _ in range(8):  # bounded: converge on the size by scaling the side
        image = Image.frombytes("RGB", (side, side), os.urandom(side * side * 3))
        buffer = io.BytesIO()
        image.save(buffer, format="PNG", compress_level=1)
        data = buffer.getvalue()
        if abs(len(data) - target) <= target * 0.02:
            break
        side = max(8, int(side * math.sqrt(target / len(data))))
    return data


def named_png(png: bytes, name: str) -> bytes:
    """``png`` with a tEXt chunk holding 16 hex digits of ``name``'s hash before its IEND chunk (its last 12
    bytes): different bytes per name, the same length for every name."""
    data = b"Comment\x00" + hashlib.sha256(name.encode()).hexdigest()[:16].encode()
    chunk = struct.pack(">I", len(data)) + b"tEXt" + data + struct.pack(">I", zlib.crc32(b"tEXt" + data))
    return png[:-12] + chunk + png[-12:]


class FakeVendor:
    def __init__(self, latency: float, image: bytes) -> None:
        self.latency = latency
        self.optimizer_latency = 0.0
        self.optimizations = 0
        self.image = image
        self.image_bytes = len(named_png(image, ""))
        self.names = itertools.count(1)
        self.generations = 0
        self.file_gets = 0

    def base_url(self, request: web.Request) -> str:
        return f"http://{request.host}"

    async def generate(self, request: web.Request) -> web.Response:
        self.generations += 1
        body = await request.read()
        if self.latency > 0:
            await asyncio.sleep(self.latency)
        try:
            payload = json.loads(body or b"{}")
        except ValueError:
            return web.json_response({"code": 20015, "message": "Invalid JSON body.", "data": None}, status=400)
        if not isinstance(payload, dict) or not payload.get("model") or not payload.get("prompt"):
            return web.json_response(
                {"code": 20015, "message": "Parameter invalid: model and prompt are required."}, 400
            )
        count = max(1, min(int(payload.get("batch_size") or 1), 4))
        base = self.base_url(request)
        images = [{"url": f"{base}/files/{next(self.names)}.png"} for _ in range(count)]
        return web.json_response({"images": images, "timings": {"inference": self.latency}, "seed": 1})

    async def optimize(self, request: web.Request) -> web.Response:
        self.optimizations += 1
        payload = json.loads(await request.read() or b"{}")
        if self.optimizer_latency > 0:
            await asyncio.sleep(self.optimizer_latency)
        idea = next((m.get("content") for m in reversed(payload.get("messages", [])) if m.get("role") == "user"), "")
        text = f"A detailed, well-lit picture of {idea}, sharp focus, rich colour"
        return web.json_response(
            {
                "id": f"chatcmpl-{self.optimizations}",
                "object": "chat.completion",
                "created": 1,
                "model": payload.get("model", "bench-llm"),
                "choices": [{"index": 0, "message": {"role": "assistant", "content": text}, "finish_reason": "stop"}],
                "usage": {"prompt_tokens": 120, "completion_tokens": 24, "total_tokens": 144},
            }
        )

    async def serve_file(self, request: web.Request) -> web.Response:
        self.file_gets += 1
        return web.Response(body=named_png(self.image, request.match_info["name"]), content_type="image/png")

    async def set_latency(self, request: web.Request) -> web.Response:
        try:
            latency = float((await request.json())["latency"])
        except (ValueError, KeyError, TypeError):
            return web.json_response({"error": 'send {"latency": <seconds>}'}, status=400)
        if not 0 <= latency <= 600:
            return web.json_response({"error": "latency must be within 0..600 s"}, status=400)
        optimizer = (await request.json()).get("optimizer_latency")
        if optimizer is not None:
            self.optimizer_latency = float(optimizer)
        self.latency = latency
        return web.json_response({"latency": self.latency, "optimizer_latency": self.optimizer_latency})

    async def health(self, request: web.Request) -> web.Response:
        return web.json_response(
            {
                "ok": True,
                "latency": self.latency,
                "image_bytes": self.image_bytes,
                "generations": self.generations,
                "optimizations": self.optimizations,
                "file_gets": self.file_gets,
            }
        )

    def app(self) -> web.Application:
        app = web.Application(client_max_size=1024 * 1024)
        app.router.add_post("/v1/images/generations", self.generate)
        app.router.add_post("/v1/chat/completions", self.optimize)
        app.router.add_get("/files/{name}", self.serve_file)
        app.router.add_post("/latency", self.set_latency)
        app.router.add_get("/health", self.health)
        return app


async def serve(port: int, latency: float, image_kb: float, max_seconds: float) -> None:
    vendor = FakeVendor(latency, noise_png(image_kb))
    runner = web.AppRunner(vendor.app(), access_log=None, handle_signals=False)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", port, backlog=4096, reuse_address=True)
    await site.start()
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    print(f"fake vendor on http://127.0.0.1:{port} latency={latency}s image={len(vendor.image)} bytes", flush=True)
    try:
        # Bounded: the fake stops by itself after max_seconds even if nobody stops it.
        await asyncio.wait_for(stop.wait(), timeout=max_seconds)
    except TimeoutError:
        print(f"fake vendor: stopping after --max-seconds {max_seconds:g}", file=sys.stderr, flush=True)
    finally:
        await runner.cleanup()


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--latency", type=float, default=0.0, help="seconds before each generation answer")
    parser.add_argument("--image-kb", type=float, default=200.0, help="approximate size of the served PNG")
    parser.add_argument("--max-seconds", type=float, default=3600.0, help="exit by itself after this long")
    args = parser.parse_args(argv)
    asyncio.run(serve(args.port, args.latency, args.image_kb, args.max_seconds))


if __name__ == "__main__":
    main()
