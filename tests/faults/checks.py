"""What every case of the fault matrix checks, shared by the image kinds' cases and the optimizer's."""

from __future__ import annotations

import json
import time
from dataclasses import dataclass

from django.core.cache import cache

from imagegen.models import Generation
from tests.factories import make_key, make_vendor
from tests.fakes.faults import INTERNAL_HOST, INTERNAL_NAME
from tests.faults.conftest import CLIENT_KEY
from tests.faults.matrix import PRIVATE_TARGET, Expect, Stage
from vendors.keys import cooldown_key
from vendors.models import VendorKey


def generate(client):
    body = {"model": "the-model", "prompt": "a violet kite over the sea", "response_format": "url"}
    return client.post(
        "/v1/images/generations",
        data=json.dumps(body),
        content_type="application/json",
        HTTP_AUTHORIZATION=f"Bearer {CLIENT_KEY}",
    )


def submits(fake) -> list[str]:
    """The key of every submit the fake received (the requests that generate: each may be billed)."""
    return [_key_of(request.headers) for request in fake.requests if request.method == "POST" and _is_submit(request)]


def _is_submit(request) -> bool:
    return not request.path.startswith("/files/") and not request.path.rstrip("/").endswith("/cancel")


def _key_of(headers: dict[str, str]) -> str:
    lowered = {name.lower(): value for name, value in headers.items()}
    return lowered.get("x-key") or lowered.get("authorization", "").split(" ", 1)[-1]


def assert_keys(keys: list[VendorKey], tried: list[str], expect: Expect) -> None:
    for key in keys:
        key.refresh_from_db()
        state = expect.keys if key.label in tried else "untouched"
        rest_ends = cache.get(cooldown_key(key.id))
        if state == "disabled":
            assert key.status == VendorKey.Status.AUTO_DISABLED, key.label
            continue
        verdict = {"cooling": VendorKey.Status.COOLING, "failing": VendorKey.Status.SUSPECT}
        assert key.status == verdict.get(state, VendorKey.Status.ACTIVE), (key.label, key.status, key.last_error)
        if state == "cooling":
            low, high = expect.rest
            assert rest_ends and low <= rest_ends - time.time() <= high, (
                key.label,
                rest_ends and rest_ends - time.time(),
            )
            continue
        assert rest_ends is None, key.label
        assert key.failure_count == (1 if state == "failing" else 0), (key.label, key.last_error)


def everything_in(response) -> str:
    headers = "\n".join(f"{name}: {value}" for name, value in response.items())
    return f"{headers}\n{response.content.decode('utf-8', 'replace')}"


def stored_texts() -> str:
    rows = [f"{g.error_message}\n{g.notes}\n{g.key_label}" for g in Generation.objects.all()]
    rows += [f"{key.last_error}" for key in VendorKey.objects.all()]
    return "\n".join(rows)


def assert_free_of(text: str, needles: list[str]) -> None:
    found = [needle for needle in needles if needle and needle in text]
    assert not found, f"{found} in:\n{text[:3000]}"


@dataclass
class Keyed:
    """A vendor row on a fake (or on a dead port, when the row says so) with two keys."""

    vendor: object
    tokens: list[str]
    keys: list[VendorKey]


def keyed_vendor(stage: Stage, profile, dead_port: int, name: str) -> Keyed:
    fake = stage.fake
    base = f"http://127.0.0.1:{dead_port}" if stage.vendor_changes.get("base_url") == "dead" else fake.url
    timeout = stage.vendor_changes.get("timeout", 5.0)
    vendor = make_vendor(name=name, kind=stage.kind, base_url=base + profile.path, timeout=timeout)
    tokens = [f"tok1-{stage.kind}-Zq93xV7pL0aa", f"tok2-{stage.kind}-Wm41kR8sT2bb"]
    keys = [make_key(vendor, profile.secret(fake, token), label=f"key{n}") for n, token in enumerate(tokens, 1)]
    return Keyed(vendor, tokens, keys)


def secrets_of(keyed: Keyed, fake) -> list[str]:
    """The keys as sent and as stored (Workers AI's also name the account, which its URLs carry)."""
    return [*keyed.tokens, *(key.secret for key in keyed.keys), getattr(fake, "account_id", "")]


def addresses_of(fake, *ports: int) -> list[str]:
    """The fake's URL, host and port, other local ports, and the internal names and addresses faults mention."""
    return [
        fake.url,
        "127.0.0.1",
        f":{fake.port}",
        *(f":{port}" for port in ports),
        INTERNAL_HOST,
        INTERNAL_NAME,
        PRIVATE_TARGET.split("/")[2],
    ]
