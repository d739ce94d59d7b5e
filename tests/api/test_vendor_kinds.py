"""Every image vendor kind through the gateway's own API: routed, called with rotating keys, stored, answered.

The adapter tests pin each wire format; these check that each kind works as a configured vendor row
behind /v1/images/generations, with its own key format, model naming, moderation and bad keys.
"""

import base64
import json
from dataclasses import dataclass

import pytest

from imagegen.models import Generation
from tests.factories import make_key, make_model, make_vendor
from tests.fakes.bfl import BFLFake
from tests.fakes.fal import FalFake
from tests.fakes.openai_images import OpenAIImagesFake
from tests.fakes.replicate import ReplicateFake
from tests.fakes.server import png_bytes
from tests.fakes.siliconflow import SiliconFlowFake
from tests.fakes.stability import StabilityFake
from tests.fakes.workers_ai import WorkersAIFake

pytestmark = pytest.mark.django_db(transaction=True)

CLIENT_KEY = "client-key-for-kinds-0001"


@dataclass
class Kind:
    kind: str
    fake: type
    path: str  # appended to the fake's URL to make the vendor's base URL
    model: str  # the upstream model name
    moderated: str | None  # the fake's behaviour for a moderation refusal (None: the vendor has none known)
    bad_key: str  # the fake's behaviour for a key it refuses

    def key(self, fake, name: str) -> str:
        secret = f"{name}-{self.kind}-secret-0042"
        return f"{fake.account_id}:{secret}" if self.kind == "workers_ai" else secret

    def token(self, key: str) -> str:
        return key.split(":", 1)[1] if self.kind == "workers_ai" else key


KINDS = [
    Kind("siliconflow", SiliconFlowFake, "/v1", "black-forest-labs/FLUX.1-schnell", "moderated", "invalid"),
    Kind("openai_images", OpenAIImagesFake, "/v1", "dall-e-3", "policy", "invalid"),
    Kind("stability", StabilityFake, "/v2beta/stable-image/generate/core", "core", "moderated", "invalid"),
    Kind("workers_ai", WorkersAIFake, "/client/v4", "@cf/stabilityai/stable-diffusion-xl-base-1.0", None, "invalid"),
    Kind("replicate", ReplicateFake, "/v1", "black-forest-labs/flux-schnell", "nsfw", "invalid"),
    Kind("bfl", BFLFake, "", "flux-pro-1.1", "request_moderated", "forbidden"),
    Kind("fal", FalFake, "", "fal-ai/flux/schnell", "policy", "unauthorized"),
]


@pytest.fixture(autouse=True)
def _bootstrap_key(settings):
    settings.AUTHORIZED_API_KEY = CLIENT_KEY


@pytest.fixture(params=KINDS, ids=[kind.kind for kind in KINDS])
def setup(request):
    kind = request.param
    with kind.fake() as fake:
        fake.image = png_bytes(24, 16, (90, 10, 200))
        vendor = make_vendor(name=kind.kind, kind=kind.kind, base_url=fake.url + kind.path, timeout=10.0)
        keys = [kind.key(fake, "first"), kind.key(fake, "second")]
        for index, secret in enumerate(keys):
            make_key(vendor, secret, label=f"key{index + 1}")
        make_model(vendor, name="the-model", upstream_name=kind.model)
        yield kind, fake, keys


def generate(client, **body):
    return client.post(
        "/v1/images/generations",
        data=json.dumps({"model": "the-model", "prompt": "a violet kite", **body}),
        content_type="application/json",
        HTTP_AUTHORIZATION=f"Bearer {CLIENT_KEY}",
    )


def test_each_kind_generates_stores_and_answers_the_vendors_image(client, setup):
    kind, fake, _ = setup

    response = generate(client, response_format="b64_json")

    assert response.status_code == 200, response.content
    [item] = response.json()["data"]
    assert base64.b64decode(item["b64_json"]) == fake.image
    assert response.json()["size"] == "24x16"
    generation = Generation.objects.get()
    assert (generation.status, generation.vendor_name) == (Generation.Status.SUCCESS, kind.kind)


def test_each_kind_moves_past_a_refused_key_to_the_next(client, setup):
    kind, fake, keys = setup
    fake.keys = {kind.token(keys[0]): kind.bad_key, kind.token(keys[1]): "ok"}

    responses = [generate(client) for _ in range(2)]

    assert [response.status_code for response in responses] == [200, 200]
    assert Generation.objects.filter(status=Generation.Status.SUCCESS).count() == 2
    assert "key1" not in Generation.objects.order_by("created_at").last().key_label


MODERATED = [kind for kind in KINDS if kind.moderated]  # Workers AI documents no moderation answer


@pytest.mark.parametrize("setup", MODERATED, ids=[kind.kind for kind in MODERATED], indirect=True)
def test_each_kinds_moderation_is_a_content_policy_refusal_without_trying_another_key(client, setup):
    kind, fake, keys = setup
    fake.default_behaviour = kind.moderated

    response = generate(client)

    assert response.status_code == 400, response.content
    error = response.json()["error"]
    assert error["code"] == "content_policy_violation"
    assert not any(key in error["message"] or kind.token(key) in error["message"] for key in keys)
    assert "127.0.0.1" not in error["message"]
    assert len({kind.token(key) for key in keys} & set(fake.keys_used())) == 1
