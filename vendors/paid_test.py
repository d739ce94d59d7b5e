"""A paid test generation: one image from one model with one chosen key, outside the rotation.

The admin runs it behind a confirmation page: unlike a probe (``vendors.probes``), it costs what one image
of the model costs. It changes nothing on the key, keeps no image and writes no ledger row; the log has a
line for it.
"""

from __future__ import annotations

import asyncio
import logging
import time
from dataclasses import dataclass

from django.core.exceptions import ImproperlyConfigured

from core.http import close_client, get_client
from core.redaction import admin_text
from vendors import errors
from vendors.adapters import adapter_class
from vendors.adapters.base import ImageRequest, UpstreamImage, VendorTarget
from vendors.models import ImageModel, VendorKey

TEST_PROMPT = "a small red cube on a plain white table, studio light"
DEFAULT_SIZE = (1024, 1024)

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class PaidTest:
    passed: bool
    summary: str  # what came back, masked
    latency: float  # seconds

    def line(self, key: VendorKey, model: ImageModel) -> str:
        verdict = "made an image" if self.passed else "failed"
        return f"Paid test of {key} with {model.name}: {verdict} in {self.latency:.1f} s: {self.summary}"


def size_for_test(model: ImageModel) -> tuple[int, int]:
    """The size a test asks for: the model's default size, else its first allowed size, else 1024x1024."""
    for text in (model.default_size, model.allowed_sizes.split(",")[0]):
        width, _, height = text.strip().lower().partition("x")
        if width.isdigit() and height.isdigit():
            return int(width), int(height)
    return DEFAULT_SIZE


def paid_test_generation(key: VendorKey, model: ImageModel, prompt: str = TEST_PROMPT) -> PaidTest:
    """Ask ``model`` for one image with ``key`` (of the model's vendor); never raises for the vendor's answer."""
    if model.vendor_id != key.vendor_id:
        raise ValueError("the model is not served by the key's vendor")
    result = asyncio.run(_generate(key, model, prompt))
    log.info("paid test generation, vendor key %s, model %s: %s", key.id, model.name, result.summary)
    return result


async def _generate(key: VendorKey, model: ImageModel, prompt: str) -> PaidTest:
    vendor = key.vendor
    target = VendorTarget(name=vendor.name, base_url=vendor.base_url, timeout=vendor.timeout)
    width, height = size_for_test(model)
    request = ImageRequest(prompt, model.sent_name, width, height, n=1, size_format=model.size_format)
    started = time.monotonic()
    try:
        secret = key.secret
        images = await adapter_class(vendor.kind)(target).call(get_client(), request, secret)
    except ImproperlyConfigured as exc:
        return PaidTest(False, f"the key cannot be read: {exc}", 0.0)
    except errors.UpstreamError as exc:
        return PaidTest(False, f"{exc.code}: {admin_text(exc.detail, secret)}", time.monotonic() - started)
    finally:
        await close_client()
    return PaidTest(bool(images), _described(images), time.monotonic() - started)


def _described(images: list[UpstreamImage]) -> str:
    if not images:
        return "the vendor answered without an image"
    first = images[0]
    form = "a URL to fetch" if first.url else "base64" if first.b64 else f"{len(first.data or b'')} bytes"
    return f"{len(images)} image(s), the first as {form}"
