"""The transport faults again, through the gateway as users run it: uvicorn in a subprocess, on the
aiohttp transport it uses in production (the in-process matrix rides httpx's), driven by the ``openai``
package. A dropped or silent vendor is told apart the same way there: at once, another key; late or
silent, a 504 and no second request to any key."""

from __future__ import annotations

import json

import openai
import pytest

from tests.fakes import faults
from tests.fakes.siliconflow import SiliconFlowFake
from tests.gateway_process import GatewayProcess, free_port

pytestmark = pytest.mark.e2e

CLIENT_KEY = "e2e-fault-client-key-0001"
KEYS = ["sk-fault-one-Zq93xV7pL0aa", "sk-fault-two-Wm41kR8sT2bb"]
VENDOR_TIMEOUT = 2.0
# (fault, model, status, error code, keys tried, each attempt's outcome, whether it was sent)
ROWS = [
    ("dropped-at-once", "flux-schnell", faults.drop(), 502, "upstream_error", 2, "upstream_unavailable", True),
    # dropped past SENT_AFTER_SECONDS (1 s), inside the vendor's timeout
    (
        "dropped-after-send",
        "flux-schnell",
        faults.drop(after=1.3),
        504,
        "upstream_timeout",
        1,
        "upstream_timeout",
        True,
    ),
    ("no-first-byte", "flux-schnell", faults.no_first_byte(), 504, "upstream_timeout", 1, "upstream_timeout", True),
    ("trickle", "flux-schnell", faults.trickle(), 504, "upstream_timeout", 1, "upstream_timeout", True),
    ("connection-refused", "nowhere", None, 502, "upstream_error", 1, "upstream_unavailable", False),
]
_STATE = """
import json
from imagegen.models import Generation
from vendors.models import Vendor, VendorKey
print(json.dumps({
    "ledger": [[(a.outcome, a.sent) for a in g.attempts.all()] for g in Generation.objects.order_by("created_at")],
    "disabled": VendorKey.objects.filter(status=VendorKey.Status.AUTO_DISABLED).count(),
}))
"""


@pytest.fixture(scope="module")
def stage(tmp_path_factory):
    with SiliconFlowFake() as fake:
        nowhere = free_port()
        env = {
            "AUTHORIZED_API_KEY": CLIENT_KEY,
            "FLUX_GEN_API_BASE": fake.url + "/v1/images/generations",
            "FLUX_GEN_MODEL": "flux-schnell",
            "FLUX_GEN_API_KEY": ",".join(KEYS),
            "IMAGE_GEN_API_BASE_1": f"http://127.0.0.1:{nowhere}/v1",  # nothing listens there
            "IMAGE_GEN_MODEL_1": "nowhere",
            "IMAGE_GEN_API_KEY_1": KEYS[0],
            "KEY_FAILURES_BEFORE_COOLDOWN": "100",  # every row starts with both keys usable
            "ROUTING_CACHE_SECONDS": "0.2",  # the timeout set below applies at once
        }
        with GatewayProcess(tmp_path_factory.mktemp("faults"), env) as gateway:
            gateway.python(f"from vendors.models import Vendor; Vendor.objects.update(timeout={VENDOR_TIMEOUT})")
            yield fake, gateway, nowhere


def test_transport_faults_through_the_real_server(stage):
    fake, gateway, nowhere = stage
    leaks = [*KEYS, fake.url, f":{fake.port}", f":{nowhere}"]
    client = openai.OpenAI(base_url=gateway.url + "/v1", api_key=CLIENT_KEY, max_retries=0, timeout=30)
    expected_ledger = []
    for name, model, fault, status, code, tried, outcome, sent in ROWS:
        fake.faults.clear()
        if fault is not None:
            fake.faults.inject(fault)
        before = len(fake.requests)
        with pytest.raises(openai.APIStatusError) as caught:
            client.images.generate(model=model, prompt="a violet kite")
        assert (caught.value.status_code, caught.value.code) == (status, code), (name, caught.value.body)
        keys = [r.headers["Authorization"] for r in fake.requests[before:] if r.method == "POST"]
        assert len(keys) == len(set(keys)) == (tried if fault else 0), name  # never the same request twice
        expected_ledger.append([[outcome, sent]] * tried)
        body = json.dumps(caught.value.body)
        assert not any(leak in body for leak in leaks), body
    state = json.loads(gateway.python(_STATE).strip().splitlines()[-1])
    assert state == {"ledger": expected_ledger, "disabled": 0}
    log = gateway.log()
    assert not any(leak in log for leak in [*KEYS, fake.url, f"127.0.0.1:{fake.port}", f"127.0.0.1:{nowhere}"])
