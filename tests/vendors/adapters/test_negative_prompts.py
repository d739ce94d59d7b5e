"""A style preset's negative prompt on each kind's wire: sent where the API has the field, dropped elsewhere.

One real call per kind against its fake on 127.0.0.1, reading what the fake received.
"""

import dataclasses

from tests.fakes.fal import FalFake
from tests.fakes.openai_images import OpenAIImagesFake
from tests.fakes.replicate import ReplicateFake
from tests.fakes.siliconflow import SiliconFlowFake
from tests.fakes.stability import StabilityFake
from tests.fakes.workers_ai import WorkersAIFake
from tests.vendors.adapters import call
from vendors.adapters.base import ImageRequest, VendorTarget
from vendors.adapters.fal import FalAdapter
from vendors.adapters.openai_images import OpenAIImagesAdapter
from vendors.adapters.replicate import ReplicateAdapter
from vendors.adapters.siliconflow import SiliconFlowAdapter
from vendors.adapters.stability import StabilityAdapter
from vendors.adapters.workers_ai import WorkersAIAdapter

NEGATIVE = "blurry, text, watermark"


def request(model: str, negative: str | None = NEGATIVE) -> ImageRequest:
    return ImageRequest(prompt="a red paper lantern", model=model, width=1024, height=576, negative_prompt=negative)


def test_siliconflow_sends_it_beside_the_prompt():
    with SiliconFlowFake() as fake:
        adapter = SiliconFlowAdapter(VendorTarget(name="sf", base_url=fake.url + "/v1"))
        call(adapter, request("black-forest-labs/FLUX.1-schnell"), "sk-sf-0001")
        call(adapter, request("black-forest-labs/FLUX.1-schnell", negative=None), "sk-sf-0001")

        styled, plain = (r.json for r in fake.requests if r.path == "/v1/images/generations")
        assert styled["negative_prompt"] == NEGATIVE and "negative_prompt" not in plain


def test_stability_sends_it_as_a_form_field():
    with StabilityFake() as fake:
        core = "/v2beta/stable-image/generate/core"
        adapter = StabilityAdapter(VendorTarget(name="st", base_url=fake.url + core))
        call(adapter, request("stable-image-core"), "sk-stability-0001")

        assert fake.forms[0]["negative_prompt"] == NEGATIVE


def test_workers_ai_sends_it_to_stable_diffusion_and_not_to_flux():
    with WorkersAIFake() as fake:
        adapter = WorkersAIAdapter(VendorTarget(name="cf", base_url=fake.url + "/client/v4"))
        key = f"{fake.account_id}:cf-token-0001"
        call(adapter, request("@cf/stabilityai/stable-diffusion-xl-base-1.0"), key)
        call(adapter, request("@cf/black-forest-labs/flux-1-schnell"), key)

        sdxl, flux = (r.json for r in fake.requests)
        assert sdxl["negative_prompt"] == NEGATIVE
        assert flux == {"prompt": "a red paper lantern"}  # FLUX's input schema has no negative prompt


def test_replicate_sends_it_in_the_input():
    with ReplicateFake() as fake:
        adapter = ReplicateAdapter(VendorTarget(name="r", base_url=fake.url + "/v1"))
        adapter.poll_first, adapter.poll_max = 0.01, 0.03
        call(adapter, request("stability-ai/sdxl"), "r8_key_0001")

        assert fake.creates()[0].json["input"]["negative_prompt"] == NEGATIVE


def test_fal_sends_it_in_the_payload():
    with FalFake() as fake:
        adapter = FalAdapter(VendorTarget(name="fal", base_url=fake.url))
        adapter.poll_first, adapter.poll_max = 0.01, 0.03
        call(adapter, request("fal-ai/fast-sdxl"), "fal-key-0001:secret")

        assert fake.submits()[0].json["negative_prompt"] == NEGATIVE


def test_openai_images_has_no_such_field_and_drops_it():
    with OpenAIImagesFake() as fake:
        adapter = OpenAIImagesAdapter(VendorTarget(name="oa", base_url=fake.url + "/v1"))
        call(adapter, dataclasses.replace(request("dall-e-3"), width=1024, height=1024), "sk-oa-0001")

        (sent,) = [r.json for r in fake.requests if r.path == "/v1/images/generations"]
        assert "negative_prompt" not in sent and sent["prompt"] == "a red paper lantern"
