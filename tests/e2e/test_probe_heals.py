"""Seen and healed, across processes: a key the vendor rejects is auto-disabled by the running gateway,
``/health/ready`` says its model cannot be served, and once the vendor takes the key again ``manage.py
probe_keys`` (another process, as cron runs it) puts it back: the gateway is ready and serves with it."""

from __future__ import annotations

import time

import httpx
import pytest

from tests.fakes.siliconflow import SiliconFlowFake
from tests.gateway_process import GatewayProcess

pytestmark = pytest.mark.e2e

CLIENT_KEY = "e2e-heal-client-8765"
VENDOR_KEY = "sk-heal-vendor-key-0000000000000042"


def generate(gateway: GatewayProcess) -> httpx.Response:
    return httpx.post(
        gateway.url + "/v1/images/generations",
        headers={"Authorization": f"Bearer {CLIENT_KEY}"},
        json={"model": "flux-schnell", "prompt": "a lighthouse", "size": "512x512"},
        timeout=20,
    )


def test_a_rejected_key_is_seen_in_readiness_and_a_passing_probe_brings_it_back(tmp_path):
    with SiliconFlowFake(keys={VENDOR_KEY: "invalid"}) as fake:
        env = {
            "AUTHORIZED_API_KEY": CLIENT_KEY,
            "FLUX_GEN_API_BASE": fake.url + "/v1",
            "FLUX_GEN_MODEL": "flux-schnell",
            "FLUX_GEN_API_KEY": VENDOR_KEY,
            "ROUTING_CACHE_SECONDS": "1",
        }
        with GatewayProcess(tmp_path, env) as gateway:
            assert httpx.get(gateway.url + "/health/ready").json()["status"] == "ok"

            assert generate(gateway).status_code >= 500  # the vendor rejects the key: auto-disabled
            not_ready = httpx.get(gateway.url + "/health/ready")
            assert not_ready.status_code == 503
            [model] = not_ready.json()["models"]["without_usable_key"]
            assert model["model"] == "flux-schnell" and model["served_by"] is None
            assert httpx.get(gateway.url + "/health").status_code == 200  # liveness is not readiness

            fake.keys.clear()  # the key is good again (topped up, re-issued)
            healed = gateway.manage("probe_keys")
            assert healed.returncode == 0, healed.stderr
            assert "passed" in healed.stdout and "1 back in rotation" in healed.stdout
            assert VENDOR_KEY not in healed.stdout + healed.stderr

            deadline = time.monotonic() + 10  # the gateway's copy of the keys is at most ROUTING_CACHE_SECONDS old
            while httpx.get(gateway.url + "/health/ready").status_code != 200 and time.monotonic() < deadline:
                time.sleep(0.2)
            assert httpx.get(gateway.url + "/health/ready").json()["status"] == "ok"
            assert generate(gateway).status_code == 200
            assert VENDOR_KEY not in gateway.log()
