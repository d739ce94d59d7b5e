"""Every fault of ``tests.faults.matrix`` against every kind it applies to, through /v1/images/generations.

Each case asserts what a user or an operator would notice: the client's status and error, each key's state
after (disabled, resting for how long, on a failing streak, untouched), whether the other key was tried and
that no key was sent the same request twice, the ledger's rows (the generation and one attempt per call,
with its outcome and ``sent`` flag), and that no key, vendor URL or internal address reached the response,
its headers, the log, the ledger or the key rows.
"""

from __future__ import annotations

import pytest

from imagegen.models import Generation
from tests.factories import make_model
from tests.fakes.image_host import FakeImageHost
from tests.fakes.profile import profile_of
from tests.fakes.server import png_bytes
from tests.faults.bodies import BODIES
from tests.faults.checks import (
    addresses_of,
    assert_free_of,
    assert_keys,
    everything_in,
    generate,
    keyed_vendor,
    secrets_of,
    stored_texts,
    submits,
)
from tests.faults.matrix import CASES, IDS, Expect, Stage
from vendors.adapters import adapters


@pytest.mark.parametrize(("row", "kind"), CASES, ids=IDS)
def test_fault(row, kind, client, settings, monkeypatch, transactional_db, log_text, dead_port):
    profile, expect = profile_of(kind), row.expect_for(kind)
    with profile.fake() as fake, FakeImageHost() as elsewhere:
        fake.image = png_bytes(24, 16, (90, 10, 200))
        stage = Stage(kind, fake, settings, monkeypatch, elsewhere=f"{elsewhere.url}/image.png")
        row.arrange(stage)
        keyed = keyed_vendor(stage, profile, dead_port, name=kind)
        make_model(keyed.vendor, name="the-model", upstream_name=profile.model)

        response = generate(client)

        _assert_answer(response, expect)
        sent = submits(fake)
        assert len(sent) == (expect.tried if expect.sent else 0), sent  # each key at most once: no resubmission
        assert len(set(sent)) == len(sent)
        tried = _assert_ledger(expect)
        assert_keys(keyed.keys, tried, expect)
        follow_up = _assert_nothing_sent_when_no_key_is_left(client, fake, expect)
        assert elsewhere.requests == []  # another port of the vendor's host is never asked
        secrets, addresses = secrets_of(keyed, fake), addresses_of(fake, elsewhere.port, dead_port)
        for answer in filter(None, [response, follow_up]):
            assert_free_of(everything_in(answer), [*secrets, *addresses])
        assert_free_of(log_text.getvalue(), [*secrets, *addresses])
        assert_free_of(stored_texts(), [*secrets, fake.url, f"127.0.0.1:{fake.port}"])


def _assert_answer(response, expect: Expect) -> None:
    assert response.status_code == expect.status, response.content
    if expect.status == 200:
        assert response.json()["data"], response.content
        return
    error = response.json()["error"]
    assert set(error) == {"message", "type", "param", "code"}
    assert error["code"] == expect.code, error
    assert error["message"] and error["type"]
    if expect.keys == "cooling" and expect.tried == 2:  # every key rests: the client learns for how long
        low, high = expect.rest
        assert low - 1 <= int(response["Retry-After"]) <= high + 1, response["Retry-After"]
    else:
        assert "Retry-After" not in response


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


@pytest.mark.parametrize("kind", list(adapters()))
def test_every_registered_kind_declares_its_own_error_answers(kind):
    assert set(BODIES[kind]) >= {"401", "403-bad-key", "403-policy", "429"}, f"tests/faults/bodies.py lacks {kind}"
