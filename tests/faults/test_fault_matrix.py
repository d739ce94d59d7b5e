"""Every fault of ``tests.faults.matrix`` against every kind it applies to, through /v1/images/generations.

Each case asserts what a user or an operator would notice: the client's status and error, each key's state
after (disabled, resting for how long, on a failing streak, untouched), whether the other key was tried and
that no key was sent the same request twice, the ledger's rows (the generation and one attempt per call,
with its outcome and ``sent`` flag), and that no key, vendor URL or internal address reached the response,
its headers, the log, the ledger or the key rows.
"""

from __future__ import annotations

import json
import time

import pytest
from django.core.cache import cache

from imagegen.models import Generation
from tests.factories import make_key, make_model, make_vendor
from tests.fakes.faults import INTERNAL_HOST, INTERNAL_NAME
from tests.fakes.image_host import FakeImageHost
from tests.fakes.profile import profile_of
from tests.fakes.server import png_bytes
from tests.faults.conftest import CLIENT_KEY
from tests.faults.matrix import CASES, IDS, PRIVATE_TARGET, Expect, Stage
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


@pytest.mark.parametrize(("row", "kind"), CASES, ids=IDS)
def test_fault(row, kind, client, settings, monkeypatch, transactional_db, log_text, dead_port):
    profile, expect = profile_of(kind), row.expect_for(kind)
    with profile.fake() as fake, FakeImageHost() as elsewhere:
        fake.image = png_bytes(24, 16, (90, 10, 200))
        stage = Stage(kind, fake, settings, monkeypatch, elsewhere=f"{elsewhere.url}/image.png")
        row.arrange(stage)
        base = f"http://127.0.0.1:{dead_port}" if stage.vendor_changes.get("base_url") == "dead" else fake.url
        vendor = make_vendor(
            name=kind, kind=kind, base_url=base + profile.path, timeout=stage.vendor_changes.get("timeout", 5.0)
        )
        tokens = [f"tok1-{kind}-Zq93xV7pL0aa", f"tok2-{kind}-Wm41kR8sT2bb"]
        keys = [make_key(vendor, profile.secret(fake, token), label=f"key{n}") for n, token in enumerate(tokens, 1)]
        make_model(vendor, name="the-model", upstream_name=profile.model)

        response = generate(client)

        _assert_answer(response, expect)
        sent = submits(fake)
        assert len(sent) == (expect.tried if expect.sent else 0), sent  # each key at most once: no resubmission
        assert len(set(sent)) == len(sent)
        tried = _assert_ledger(expect)
        _assert_keys(keys, tried, expect)
        follow_up = _assert_nothing_sent_when_no_key_is_left(client, fake, expect)
        assert elsewhere.requests == []  # another port of the vendor's host is never asked
        secrets = [*tokens, *(key.secret for key in keys), getattr(fake, "account_id", "")]  # Workers AI: account
        addresses = [fake.url, f"127.0.0.1:{fake.port}", f":{elsewhere.port}", f":{dead_port}"]
        addresses += [INTERNAL_HOST, INTERNAL_NAME, PRIVATE_TARGET.split("/")[2]]
        for answer in filter(None, [response, follow_up]):
            _assert_free_of(_everything_in(answer), [*secrets, *addresses])
        _assert_free_of(log_text.getvalue(), [*secrets, *addresses])
        _assert_free_of(_stored_texts(), [*secrets, fake.url, f"127.0.0.1:{fake.port}"])


def _assert_answer(response, expect: Expect) -> None:
    assert response.status_code == expect.status, response.content
    if expect.status == 200:
        assert response.json()["data"], response.content
        return
    error = response.json()["error"]
    assert set(error) == {"message", "type", "param", "code"}
    assert error["code"] == expect.code, error
    assert error["message"] and error["type"]


def _assert_ledger(expect: Expect) -> list[str]:
    """The generation's row and one attempt per key tried; the labels of the keys tried."""
    generation = Generation.objects.get()
    assert generation.status == expect.generation, generation.error_message
    assert generation.error_code == expect.code
    attempts = list(generation.attempts.all())
    assert [(a.outcome, a.sent) for a in attempts] == [(expect.outcome, expect.sent)] * expect.tried
    labels = [attempt.key_label for attempt in attempts]
    assert len(set(labels)) == len(labels) == expect.tried
    return labels


def _assert_keys(keys: list[VendorKey], tried: list[str], expect: Expect) -> None:
    for key in keys:
        key.refresh_from_db()
        state = expect.keys if key.label in tried else "untouched"
        rest_ends = cache.get(cooldown_key(key.id))
        if state == "disabled":
            assert key.status == VendorKey.Status.AUTO_DISABLED, key.label
            continue
        assert key.status == VendorKey.Status.ACTIVE, (key.label, key.last_error)
        if state == "cooling":
            low, high = expect.rest
            assert rest_ends and low <= rest_ends - time.time() <= high, (
                key.label,
                rest_ends and rest_ends - time.time(),
            )
            continue
        assert rest_ends is None, key.label
        assert key.failure_count == (1 if state == "failing" else 0), (key.label, key.last_error)


def _assert_nothing_sent_when_no_key_is_left(client, fake, expect: Expect):
    """Once every key is disabled or resting, the next request is refused without a vendor call."""
    if expect.keys not in ("disabled", "cooling") or expect.tried < 2:
        return None
    before = len(submits(fake))
    response = generate(client)
    assert response.status_code == 503, response.content
    assert response.json()["error"]["code"] == "no_available_key"
    assert ("Retry-After" in response.headers) == (expect.keys == "cooling")
    assert len(submits(fake)) == before
    return response


def _everything_in(response) -> str:
    headers = "\n".join(f"{name}: {value}" for name, value in response.items())
    return f"{headers}\n{response.content.decode('utf-8', 'replace')}"


def _stored_texts() -> str:
    rows = [f"{g.error_message}\n{g.notes}\n{g.key_label}" for g in Generation.objects.all()]
    rows += [f"{key.last_error}" for key in VendorKey.objects.all()]
    return "\n".join(rows)


def _assert_free_of(text: str, needles: list[str]) -> None:
    found = [needle for needle in needles if needle and needle in text]
    assert not found, f"{found} in:\n{text[:3000]}"
