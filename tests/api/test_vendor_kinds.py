"""Every image vendor kind through the gateway's own API: routed, called with rotating keys, stored, answered.

The adapter tests pin each wire format; these check that each kind works as a configured vendor row
behind /v1/images/generations, with its own key format, model naming, moderation and bad keys. The kinds
come from the registry (``vendors.adapters``) and what the tests need of each from the ``PROFILE`` its
fake module declares (``tests.fakes.profile``): a kind added to the registry is tested here, or fails here.
"""

import base64
import json

import pytest

from imagegen.models import Generation
from tests.factories import client_key_row, make_key, make_model, make_vendor
from tests.fakes.profile import KindProfile, profile_of
from tests.fakes.server import png_bytes
from tests.fakes.siliconflow import VendorFake
from vendors.adapters import adapters, image_kinds

CLIENT_KEY = "client-key-for-kinds-0001"
IMAGE_KINDS = image_kinds()


def declared_profile(kind: str) -> KindProfile | None:
    try:
        return profile_of(kind)
    except (ImportError, AttributeError):  # the first test below says which kind lacks its profile
        return None


MODERATED_KINDS = [kind for kind in IMAGE_KINDS if getattr(declared_profile(kind), "moderated", None)]


@pytest.mark.parametrize("kind", list(adapters()))
def test_every_registered_kind_has_a_fake_declaring_its_test_profile(kind):
    profile = declared_profile(kind)

    assert isinstance(profile, KindProfile), f"tests/fakes/{kind}.py must declare PROFILE = KindProfile(...)"
    assert issubclass(profile.fake, VendorFake)
    assert profile.fake.__module__ == f"tests.fakes.{kind}"
    assert profile.model and profile.bad_key


@pytest.fixture(params=IMAGE_KINDS)
def setup(request, transactional_db):
    kind = request.param
    profile = profile_of(kind)
    client_key_row(CLIENT_KEY)
    with profile.fake() as fake:
        fake.image = png_bytes(24, 16, (90, 10, 200))
        vendor = make_vendor(name=kind, kind=kind, base_url=fake.url + profile.path, timeout=10.0)
        tokens = [f"first-{kind}-secret-0042", f"second-{kind}-secret-0042"]
        for index, token in enumerate(tokens):
            make_key(vendor, profile.secret(fake, token), label=f"key{index + 1}")
        make_model(vendor, name="the-model", upstream_name=profile.model)
        yield kind, profile, fake, tokens


def generate(client, **body):
    return client.post(
        "/v1/images/generations",
        data=json.dumps({"model": "the-model", "prompt": "a violet kite", **body}),
        content_type="application/json",
        HTTP_AUTHORIZATION=f"Bearer {CLIENT_KEY}",
    )


def test_each_kind_generates_stores_and_answers_the_vendors_image(client, setup):
    kind, _, fake, _ = setup

    response = generate(client, response_format="b64_json")

    assert response.status_code == 200, response.content
    [item] = response.json()["data"]
    assert base64.b64decode(item["b64_json"]) == fake.image
    assert response.json()["size"] == "24x16"
    generation = Generation.objects.get()
    assert (generation.status, generation.vendor_name) == (Generation.Status.SUCCESS, kind)


def test_each_kind_moves_past_a_refused_key_to_the_next(client, setup):
    _, profile, fake, tokens = setup
    fake.keys = {tokens[0]: profile.bad_key, tokens[1]: "ok"}

    responses = [generate(client) for _ in range(2)]

    assert [response.status_code for response in responses] == [200, 200]
    assert Generation.objects.filter(status=Generation.Status.SUCCESS).count() == 2
    assert "key1" not in Generation.objects.order_by("created_at").last().key_label


@pytest.mark.parametrize("setup", MODERATED_KINDS, indirect=True)
def test_each_kinds_moderation_is_a_content_policy_refusal_without_trying_another_key(client, setup):
    _, profile, fake, tokens = setup
    fake.default_behaviour = profile.moderated
    secrets = [profile.secret(fake, token) for token in tokens]

    response = generate(client)

    assert response.status_code == 400, response.content
    error = response.json()["error"]
    assert error["code"] == "content_policy_violation"
    assert not any(secret in error["message"] for secret in [*secrets, *tokens])
    assert "127.0.0.1" not in error["message"]
    assert len(set(tokens) & set(fake.keys_used())) == 1
