"""(c) Image serving: ``GET /images/<token>.png`` from the gateway at c=32, beside the fake serving
the same bytes from memory (aiohttp), as a yardstick for what the machine can serve."""

from __future__ import annotations

import json

from bench_requests import IMAGE_LINK, chat_check, chat_request
from fake_vendor_process import FakeVendorProcess
from load import client_session, run_load
from meters import CpuMeter
from scenario_c_offload import behind_nginx


async def scenario_c(gateway, client_key: str, fake: FakeVendorProcess, args) -> dict:
    fake.set_latency(0)
    expected = fake.health()["image_bytes"]
    async with client_session() as session:
        image_url, size = await _stored_image(session, gateway.url, client_key)

        def check(status: int, body: bytes) -> bool:
            return status == 200 and len(body) == size

        targets = {"gateway": image_url, "fake": fake.url + "/files/x.png"}
        out: dict = {"image_url": image_url, "gateway_image_bytes": size, "fake_image_bytes": expected}
        for url in targets.values():  # warm-up
            await run_load(session, lambda s, u=url: s.get(u), n=200, concurrency=args.image_c, check=check)
        for name, url in targets.items():
            with CpuMeter(gateway.process.pid, fake.process.pid) as cpu:
                result = await run_load(
                    session, lambda s, u=url: s.get(u), n=args.image_n, concurrency=args.image_c, check=check
                )
            out[name] = result.summary()
            out[name]["cpu"] = cpu.used
            out[name]["mb_per_s"] = result.rps * size / 1e6
            print(f"  (c) {name}: {result.rps:.0f} req/s, p99 {out[name]['p99_ms']:.1f} ms", flush=True)
        out["gateway_over_fake_rps"] = out["gateway"]["rps"] / out["fake"]["rps"]
    out["nginx"] = await behind_nginx(gateway, image_url, size, args)
    return out


async def _stored_image(session, gateway_url: str, client_key: str) -> tuple[str, int]:
    """One generation through the gateway: the stored image's URL and its size in bytes."""
    async with chat_request(gateway_url, client_key)(session) as response:
        body = await response.read()
    if not chat_check(response.status, body):
        raise RuntimeError(f"(c) the generation failed: {response.status} {body[:500]!r}")
    match = IMAGE_LINK.search(json.loads(body)["choices"][0]["message"]["content"])
    if match is None:
        raise RuntimeError(f"(c) no 127.0.0.1 image link in {body[:500]!r}")
    image_url = match.group(1)
    async with session.get(image_url) as response:
        stored = await response.read()
    return image_url, len(stored)
