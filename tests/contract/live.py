"""A live gateway for the contract tests: the real server (``tests.gateway_process``) with one fake
vendor behind the model the published document's examples name, so valid requests really succeed."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from tests.fakes.server import png_bytes
from tests.fakes.siliconflow import SiliconFlowFake
from tests.gateway_process import GatewayProcess

CLIENT_KEY = "contract-client-key-8642"
VENDOR_KEYS = ("sk-contract-one-1357", "sk-contract-two-2468")
# The model of the document's request examples (imagegen.api.openapi.EXAMPLE_MODEL), and another.
MODELS = ("flux-schnell", "flux-dev")


@dataclass
class LiveGateway:
    url: str
    process: GatewayProcess
    vendor: SiliconFlowFake

    @property
    def secrets(self) -> list[str]:
        """What no answer may ever hold: the keys, and where the vendor lives."""
        return [CLIENT_KEY, *VENDOR_KEYS, self.vendor.url.removeprefix("http://")]


@contextmanager
def live_gateway(data_dir: Path) -> Iterator[LiveGateway]:
    vendor = SiliconFlowFake(image=png_bytes(64, 36, (20, 140, 200))).start()
    env = {
        "AUTHORIZED_API_KEY": CLIENT_KEY,
        "FLUX_GEN_API_BASE": vendor.url + "/v1/images/generations",
        "FLUX_GEN_MODEL": ",".join(MODELS),
        "FLUX_GEN_API_KEY": ",".join(VENDOR_KEYS),
        "LOG_LEVEL": "WARNING",
    }
    try:
        with GatewayProcess(data_dir, env) as process:
            yield LiveGateway(process.url, process, vendor)
    finally:
        vendor.stop()
