import base64

import httpx
import pytest

from tests.fakes.openai_images import OpenAIImagesFake
from tests.fakes.server import jpeg_bytes
from tests.vendors.adapters import call, failure_of, fetch
from vendors import errors
from vendors.adapters.base import ImageRequest, VendorTarget
from vendors.adapters.openai_images import OpenAIImagesAdapter

KEY = "sk-proj-openai-images-test-0001"
GPT = ImageRequest(prompt="a red paper lantern", model="gpt-image-1", width=1536, height=1024)
DALL_E_3 = ImageRequest(prompt="a red paper lantern", model="dall-e-3", width=1792, height=1024)


@pytest.fixture
def fake():
    with OpenAIImagesFake() as server:
        yield server


@pytest.fixture
def adapter(fake):
    return OpenAIImagesAdapter(VendorTarget(name="x", base_url=fake.url + "/v1"))


def test_a_gpt_image_request_sends_model_prompt_and_size_and_never_response_format(fake, adapter):
    call(adapter, GPT, KEY)

    [sent] = fake.requests
    assert (sent.method, sent.path) == ("POST", "/v1/images/generations")
    assert sent.headers["Authorization"] == f"Bearer {KEY}"
    assert sent.json == {"model": "gpt-image-1", "prompt": "a red paper lantern", "size": "1536x1024"}


def test_gpt_image_answers_in_base64_only_and_the_output_format_names_its_type(fake, adapter):
    fake.image = jpeg_bytes()  # the fake claims png, as OpenAI would for its default output_format

    images = call(adapter, GPT, KEY)

    [image] = images
    assert base64.b64decode(image.b64) == fake.image
    assert (image.url, image.data, image.content_type) == (None, None, "image/png")


def test_the_fake_really_rejects_response_format_for_gpt_image_as_unknown_parameter(fake, adapter):
    # The guard for the test above: were response_format sent, OpenAI (and the fake) would refuse the call.
    sent = httpx.post(
        fake.url + "/v1/images/generations",
        json={"model": "gpt-image-1", "prompt": "x", "response_format": "b64_json"},
        headers={"Authorization": f"Bearer {KEY}"},
        trust_env=False,
    )

    error = adapter.classify_error(sent)

    assert type(error) is errors.BadRequest
    assert "response_format" in error.message


def test_several_gpt_images_are_one_call_with_n(fake, adapter):
    images = call(adapter, ImageRequest(prompt="a lantern", model="gpt-image-1", n=3), KEY)

    assert len(images) == 3
    assert fake.requests[0].json["n"] == 3


def test_dall_e_3_answers_with_a_fetchable_url_and_its_revised_prompt(fake, adapter):
    [image] = call(adapter, DALL_E_3, KEY)

    assert image.url.startswith(fake.url + "/files/") and image.b64 is None
    assert image.revised_prompt == "A detailed rendering of a red paper lantern"
    assert fetch(image.url).content == fake.image
    assert fake.requests[0].json == {"model": "dall-e-3", "prompt": "a red paper lantern", "size": "1792x1024"}


@pytest.mark.parametrize(
    ("model", "expected"),
    [("dall-e-3", 1), ("openai/dall-e-3", 1), ("DALLE-3-HD", 1), ("dall-e-2", 10), ("gpt-image-1", 10)],
)
def test_dall_e_3_takes_one_image_per_call_and_the_others_ten(model, expected):
    adapter = OpenAIImagesAdapter(VendorTarget(name="x", base_url="https://api.example/v1"))

    assert adapter.max_batch(ImageRequest(prompt="p", model=model, n=4)) == expected


def test_a_dall_e_3_request_for_more_images_still_asks_for_one_per_call(fake, adapter):
    # dall-e-3 refuses n > 1 with 400 invalid_value; the pipeline makes the other calls.
    images = call(adapter, ImageRequest(prompt="a lantern", model="dall-e-3", n=4), KEY)

    assert len(images) == 1
    assert "n" not in fake.requests[0].json


def test_dall_e_2_returns_one_url_per_image(fake, adapter):
    images = call(adapter, ImageRequest(prompt="a lantern", model="dall-e-2", width=512, height=512, n=2), KEY)

    assert [image.url.startswith(fake.url + "/files/") for image in images] == [True, True]
    assert fake.requests[0].json["n"] == 2


def test_quality_and_style_go_out_only_when_the_client_set_them(fake, adapter):
    call(adapter, DALL_E_3, KEY)
    call(adapter, ImageRequest(prompt="a lantern", model="dall-e-3", quality="hd", style="natural"), KEY)

    plain, styled = (request.json for request in fake.requests)
    assert "quality" not in plain and "style" not in plain
    assert (styled["quality"], styled["style"]) == ("hd", "natural")


def test_together_takes_width_and_height_integers(fake, adapter):
    fake.flavour = "together"
    model = "black-forest-labs/FLUX.1-schnell"
    request = ImageRequest(prompt="a lantern", model=model, width=1280, height=720, size_format="width_height")

    [image] = call(adapter, request, KEY)

    sent = fake.requests[0].json
    assert (sent["width"], sent["height"]) == (1280, 720) and "size" not in sent
    assert fetch(image.url).content == fake.image


def test_xai_takes_an_aspect_ratio_and_no_size(fake, adapter):
    fake.flavour = "xai"
    request = ImageRequest(prompt="a lantern", model="grok-2-image", width=1280, height=720, size_format="aspect_ratio")

    [image] = call(adapter, request, KEY)

    assert fake.requests[0].json == {"model": "grok-2-image", "prompt": "a lantern", "aspect_ratio": "16:9"}
    assert image.revised_prompt and image.url.startswith(fake.url + "/files/")


def test_xai_refuses_a_size_field_so_the_size_format_matters(fake, adapter):
    fake.flavour = "xai"

    error = failure_of(adapter, ImageRequest(prompt="a lantern", model="grok-2-image"), KEY)

    assert type(error) is errors.BadRequest and "size" in error.message


def test_a_relay_that_answers_a_gpt_image_model_with_a_url_is_fetched(fake, adapter):
    fake.flavour = "relay"

    [image] = call(adapter, GPT, KEY)

    assert fetch(image.url).content == fake.image


def test_a_base_url_that_is_already_the_full_endpoint_is_used_as_is(fake):
    adapter = OpenAIImagesAdapter(VendorTarget(name="x", base_url=fake.url + "/v1/images/generations"))

    assert call(adapter, GPT, KEY)
    assert [r.path for r in fake.requests] == ["/v1/images/generations"]


def test_openai_429_rate_limit_is_a_cooldown_but_429_insufficient_quota_rejects_the_key(fake, adapter):
    fake.keys, fake.retry_after = {KEY: "rate_limited", "sk-spent-quota-0002": "quota"}, 9

    limited = failure_of(adapter, GPT, KEY)
    spent = failure_of(adapter, GPT, "sk-spent-quota-0002")

    assert type(limited) is errors.RateLimited and limited.retry_after == 9
    assert type(spent) is errors.KeyRejected and spent.vendor_status == 429
    assert "quota" in spent.message


def test_without_retry_after_the_cooldown_is_the_reset_of_the_spent_openai_limit(fake, adapter):
    fake.keys = {KEY: "rate_limited_reset"}  # requests spent (reset 1m30s); tokens left (reset 20ms)

    error = failure_of(adapter, GPT, KEY)

    assert type(error) is errors.RateLimited and error.retry_after == 90


def _response(status: int, headers: dict[str, str] | None = None, **kwargs) -> httpx.Response:
    request = httpx.Request("POST", "https://api.example/v1/images/generations", headers={"Authorization": "Bearer k"})
    return httpx.Response(status, headers=headers, request=request, **kwargs)


@pytest.mark.parametrize(
    ("behaviour", "expected"),
    [
        ("invalid", errors.KeyRejected),  # 401 invalid_api_key
        ("billing_limit", errors.KeyRejected),  # 400 billing_hard_limit_reached: spent, not the request's fault
        ("region", errors.BadRequest),  # 403 unsupported region: the gateway's country, no key's fault
        ("policy", errors.ContentPolicy),  # DALL-E 400 content_policy_violation
        ("gpt_moderated", errors.ContentPolicy),  # GPT image 400 moderation_blocked
        ("moderation_blocked", errors.ContentPolicy),
        ("bad_request", errors.BadRequest),
        ("timeout", errors.UpstreamUnavailable),
        ("server_error", errors.UpstreamUnavailable),
        ("overloaded", errors.UpstreamUnavailable),
        ("empty", errors.GenerationFailed),
    ],
)
def test_each_vendor_failure_maps_to_its_error_class(fake, adapter, behaviour, expected):
    fake.keys = {KEY: behaviour}

    assert type(failure_of(adapter, GPT, KEY)) is expected


def test_xai_names_a_bad_key_in_a_400_and_that_is_still_a_key_problem(fake, adapter):
    fake.flavour, fake.keys = "xai", {KEY: "xai_invalid"}

    error = failure_of(adapter, ImageRequest(prompt="a lantern", model="grok-2-image", size_format="aspect_ratio"), KEY)

    assert type(error) is errors.KeyRejected and error.vendor_status == 400
    assert "Incorrect API key" in error.message


def test_the_moderation_reason_reaches_the_client_without_the_vendor_link(fake, adapter):
    fake.keys = {KEY: "gpt_moderated"}

    error = failure_of(adapter, GPT, KEY)

    assert error.message.startswith("Your request was rejected by the safety system.")
    assert "help.example" not in error.message


def test_an_unknown_model_is_a_bad_request_naming_it(fake, adapter):
    error = failure_of(adapter, ImageRequest(prompt="a lantern", model="no-such-model"), KEY)

    assert type(error) is errors.BadRequest and "no-such-model" in error.message


def test_an_item_with_both_fields_is_taken_inline_and_a_data_url_counts_as_base64():
    adapter = OpenAIImagesAdapter(VendorTarget(name="x", base_url="https://api.example/v1"))
    encoded = base64.b64encode(b"png").decode()
    body = {
        "data": [
            {"url": "https://cdn.example/a.png", "b64_json": encoded},
            {"url": f"data:image/png;base64,{encoded}"},
            {"url": "", "b64_json": ""},
            {"url": "https://cdn.example/b.png", "revised_prompt": ""},
        ]
    }

    images = adapter.parse_response(_response(200, json=body))

    assert [(image.url, image.b64) for image in images] == [
        (None, encoded),
        (None, f"data:image/png;base64,{encoded}"),
        ("https://cdn.example/b.png", None),
    ]
    assert images[2].revised_prompt is None


@pytest.mark.parametrize(
    ("error", "expected"),
    [
        ({"code": "insufficient_quota", "message": "You exceeded your current quota"}, errors.KeyRejected),
        ({"code": 429, "message": "upstream busy"}, errors.RateLimited),
        ({"type": "new_api_error", "message": "Your request was rejected by the safety system."}, errors.ContentPolicy),
        ({"type": "new_api_error", "message": "upstream returned nothing"}, errors.GenerationFailed),
    ],
)
def test_a_relay_200_carrying_an_error_is_classified_like_one(error, expected):
    adapter = OpenAIImagesAdapter(VendorTarget(name="x", base_url="https://api.example/v1"))

    with pytest.raises(errors.UpstreamError) as raised:
        adapter.parse_response(_response(200, json={"error": error}))

    assert type(raised.value) is expected


def test_a_200_that_is_not_json_is_a_generation_failure():
    adapter = OpenAIImagesAdapter(VendorTarget(name="x", base_url="https://api.example/v1"))

    with pytest.raises(errors.GenerationFailed):
        adapter.parse_response(_response(200, text="<html>maintenance</html>"))
