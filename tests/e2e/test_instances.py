"""Two gateway instances (separate processes, separate ports) on one database, one cache and one media
store, as behind a load balancer: what one instance did, the other one honours.

The last test moves both instances to one S3 bucket (a moto server) and restarts them.

The pair (``tests/instances.py``) runs on PostgreSQL + Redis in CI's pass that has them, and on one
SQLite file + the embedded file cache in the other. It is started once for the module; each test uses
its own vendor, model or client key, so no test sees another's counters, and every vendor call is
checked at the fake vendor, by the key it was sent with.
"""

from __future__ import annotations

import importlib.util
import time
from collections import Counter
from datetime import UTC, datetime, timedelta
from urllib.parse import urlsplit

import httpx
import pytest

from tests.fakes.server import bearer
from tests.fakes.siliconflow import SiliconFlowFake
from tests.gateway_process import GatewayProcess
from tests.instances import GatewayPair
from tests.s3_server import S3Server

pytestmark = pytest.mark.e2e

CLIENT_KEY = "e2e-instances-client-4242"
PER_MINUTE_KEY = "e2e-instances-three-a-minute-4343"
PER_DAY_KEY = "e2e-instances-two-a-day-4444"
ROTATION_KEYS = ["sk-pair-one-1111", "sk-pair-two-2222", "sk-pair-three-3333"]
COOLING_KEYS = ["sk-pair-cool-a-5555", "sk-pair-cool-b-6666"]
PLAIN_KEY = "sk-pair-plain-7777"
RETRY_AFTER = 3
# IMAGE_STORAGE=s3 needs django-storages and the gateway's storage settings (imagegen/storage_settings.py).
S3_AVAILABLE = all(importlib.util.find_spec(name) for name in ("storages", "imagegen.storage_settings"))


class KeyNotingFake(SiliconFlowFake):
    """SiliconFlow, noting the key and the arrival time of every image call."""

    def __init__(self):
        super().__init__()
        self.calls: list[tuple[str, float]] = []

    async def generate(self, request):
        self.calls.append((bearer(request), time.monotonic()))
        return await super().generate(request)

    def keys_sent(self, since: int = 0) -> list[str]:
        return [key for key, _ in self.calls[since:]]


@pytest.fixture(scope="module")
def fakes():
    started = {name: KeyNotingFake().start() for name in ("rotation", "cooling", "plain")}
    yield started
    for fake in started.values():
        fake.stop()


@pytest.fixture(scope="module")
def pair(fakes, tmp_path_factory):
    env = {
        "AUTHORIZED_API_KEY": CLIENT_KEY,
        "FLUX_GEN_API_BASE": fakes["rotation"].url + "/v1",
        "FLUX_GEN_MODEL": "rotating-flux",
        "FLUX_GEN_API_KEY": ",".join(ROTATION_KEYS),
        "IMAGE_GEN_API_BASE_1": fakes["cooling"].url + "/v1",
        "IMAGE_GEN_KIND_1": "siliconflow",
        "IMAGE_GEN_MODEL_1": "cooling-flux",
        "IMAGE_GEN_API_KEY_1": ",".join(COOLING_KEYS),
        "IMAGE_GEN_API_BASE_2": fakes["plain"].url + "/v1",
        "IMAGE_GEN_KIND_2": "siliconflow",
        "IMAGE_GEN_MODEL_2": "limited-flux,daily-flux,idempotent-flux,stored-flux",
        "IMAGE_GEN_API_KEY_2": PLAIN_KEY,
    }
    gateways = GatewayPair(tmp_path_factory.mktemp("pair"), env).prepare()
    gateways.python(
        "from imagegen.models import ClientKey\n"
        f"for name, raw, limits in [('per minute', {PER_MINUTE_KEY!r}, dict(requests_per_minute=3)),"
        f" ('per day', {PER_DAY_KEY!r}, dict(images_per_day=2))]:\n"
        "    key = ClientKey(name=name, **limits); key.set_raw(raw); key.save()\n"
    )
    try:
        gateways.serve()
        for instance in gateways.instances:  # each instance's first generation builds its snapshots and clients
            assert generate(instance, "stored-flux").status_code == 200
        yield gateways
    finally:
        gateways.stop()
    logs = gateways.logs()
    secrets = [*ROTATION_KEYS, *COOLING_KEYS, PLAIN_KEY, CLIENT_KEY, PER_MINUTE_KEY, PER_DAY_KEY]
    assert not any(secret in logs for secret in secrets), "a key reached an instance's log"


def generate(gateway: GatewayProcess, model: str, *, client_key: str = CLIENT_KEY, **headers) -> httpx.Response:
    return httpx.post(
        gateway.url + "/v1/images/generations",
        headers={"Authorization": f"Bearer {client_key}", **headers},
        json={"model": model, "prompt": "a lighthouse"},
        timeout=30,
    )


def alternating(pair: GatewayPair, count: int) -> list[GatewayProcess]:
    return [pair.instances[i % 2] for i in range(count)]


def test_both_instances_take_the_vendor_keys_strictly_in_turn(pair, fakes):
    fake = fakes["rotation"]

    answers = [generate(instance, "rotating-flux") for instance in alternating(pair, 12)]

    assert [answer.status_code for answer in answers] == [200] * 12
    keys = fake.keys_sent()
    start = ROTATION_KEYS.index(keys[0])
    # Each instance counting turns on its own would send every key twice in a row (1, 1, 2, 2, ...).
    assert keys == [ROTATION_KEYS[(start + i) % 3] for i in range(12)]
    assert Counter(keys) == dict.fromkeys(ROTATION_KEYS, 4)


def test_a_key_rate_limited_through_one_instance_rests_in_the_other_until_retry_after_ends(pair, fakes):
    fake = fakes["cooling"]
    resting = COOLING_KEYS[0]
    fake.retry_after = RETRY_AFTER
    fake.keys = {resting: "rate_limited"}
    while resting not in fake.keys_sent():
        generate(pair.first, "cooling-flux")
    limited_at = next(at for key, at in fake.calls if key == resting)
    fake.keys = {}  # from now on the key would work: only the shared cooldown keeps it out
    before = len(fake.calls)

    while time.monotonic() < limited_at + RETRY_AFTER - 0.7:
        assert generate(pair.second, "cooling-flux").status_code == 200
    during = fake.keys_sent(before)
    time.sleep(max(0.0, limited_at + RETRY_AFTER + 1.0 - time.monotonic()))
    after = len(fake.calls)
    for _ in COOLING_KEYS:
        generate(pair.second, "cooling-flux")

    assert len(during) >= 3, f"instance 2 served too little of the cooldown to tell: {during}"
    assert resting not in during
    assert resting in fake.keys_sent(after), "the key never came back"


def test_requests_per_minute_count_both_instances_together(pair, fakes):
    if 60 - time.time() % 60 < 5:  # the four requests in one clock minute
        time.sleep(60 - time.time() % 60 + 0.1)
    before = len(fakes["plain"].calls)

    answers = [generate(instance, "limited-flux", client_key=PER_MINUTE_KEY) for instance in alternating(pair, 4)]

    assert [answer.status_code for answer in answers] == [200, 200, 200, 429]
    refused = answers[3]  # sent to instance 2, which itself had served one request only
    assert refused.json()["error"]["code"] == "rate_limit_exceeded"
    assert set(refused.json()["error"]) == {"message", "type", "param", "code"}
    assert 1 <= int(refused.headers["retry-after"]) <= 60
    assert len(fakes["plain"].calls) - before == 3, "the refused request reached the vendor"


def test_images_per_day_count_both_instances_together(pair):
    now = datetime.now(UTC)
    midnight = datetime.combine(now.date() + timedelta(days=1), datetime.min.time(), UTC)
    if (midnight - now).total_seconds() < 5:  # the three requests in one UTC day
        time.sleep((midnight - now).total_seconds() + 0.1)

    first, second = (generate(pair.first, "daily-flux", client_key=PER_DAY_KEY) for _ in range(2))
    refused = generate(pair.second, "daily-flux", client_key=PER_DAY_KEY)

    assert [first.status_code, second.status_code, refused.status_code] == [200, 200, 429]
    assert refused.json()["error"]["code"] == "insufficient_quota"
    assert int(refused.headers["retry-after"]) >= 1


def test_an_idempotency_key_used_on_one_instance_replays_on_the_other(pair, fakes):
    before = len(fakes["plain"].calls)

    original = generate(pair.first, "idempotent-flux", **{"Idempotency-Key": "pair-order-17"})
    replay = generate(pair.second, "idempotent-flux", **{"Idempotency-Key": "pair-order-17"})

    assert original.status_code == replay.status_code == 200
    assert replay.headers.get("idempotent-replayed") == "true"
    assert [item["url"] for item in replay.json()["data"]] == [item["url"] for item in original.json()["data"]]
    assert len(fakes["plain"].calls) - before == 1


def stored_by_first_fetched_from_second(pair: GatewayPair) -> httpx.Response:
    """An image generated through instance 1, then downloaded by its URL's path from instance 2."""
    answer = generate(pair.first, "stored-flux")
    assert answer.status_code == 200
    path = urlsplit(answer.json()["data"][0]["url"]).path
    return httpx.get(pair.second.url + path, timeout=10)


def test_an_image_stored_through_one_instance_is_served_by_the_other(pair, fakes):
    served = stored_by_first_fetched_from_second(pair)

    assert served.status_code == 200
    assert served.content == fakes["plain"].image
    assert served.headers["content-type"] == "image/png"


@pytest.fixture(scope="module")
def pair_on_s3(pair):
    """Both instances restarted with their images in one bucket (for the rest of the module)."""
    with S3Server() as s3:
        bucket = s3.make_bucket()
        for instance in pair.instances:
            instance.extra_env.update(s3.gateway_env(bucket, AWS_LOCATION="pair"))
            instance.restart()
        yield pair, s3, bucket
    assert s3.secret_key not in pair.logs(), "the S3 secret reached an instance's log"


@pytest.mark.skipif(not S3_AVAILABLE, reason="IMAGE_STORAGE=s3 is not in this checkout")
def test_an_image_stored_in_the_bucket_through_one_instance_is_served_by_the_other(pair_on_s3, fakes):
    pair, s3, bucket = pair_on_s3

    served = stored_by_first_fetched_from_second(pair)

    assert served.status_code == 200
    assert served.content == fakes["plain"].image
    assert [key for key in s3.object_keys(bucket) if key.startswith("pair/images/")], "nothing went to the bucket"
