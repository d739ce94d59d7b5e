import base64

import httpx
import pytest

from tests.fakes.server import jpeg_bytes
from tests.fakes.stability import StabilityFake, parse_form
from tests.vendors.adapters import call, failure_of
from vendors import errors
from vendors.adapters.base import ImageRequest, VendorTarget
from vendors.adapters.stability import StabilityAdapter

KEY = "sk-stability-test-0001"
CORE = "/v2beta/stable-image/generate/core"
REQUEST = ImageRequest(prompt="a red paper lantern", model="stable-image-core", width=1344, height=768, ratio="16:9")


@pytest.fixture
def fake():
    with StabilityFake() as server:
        yield server


@pytest.fixture
def adapter(fake):
    return StabilityAdapter(VendorTarget(name="x", base_url=fake.url + CORE))


def test_it_posts_multipart_form_fields_asking_for_raw_image_bytes(fake, adapter):
    call(adapter, REQUEST, KEY)

    [sent] = fake.requests
    assert (sent.method, sent.path) == ("POST", CORE)
    assert sent.headers["Authorization"] == f"Bearer {KEY}"
    assert sent.headers["Accept"] == "image/*"
    assert sent.headers["Content-Type"].startswith("multipart/form-data; boundary=")
    assert fake.forms == [{"prompt": "a red paper lantern", "aspect_ratio": "16:9", "output_format": "png"}]


def test_the_raw_image_comes_back_as_bytes_with_the_seed_from_the_headers(fake, adapter):
    fake.image, fake.seed = jpeg_bytes(), 42

    [image] = call(adapter, REQUEST, KEY)

    assert (image.data, image.content_type, image.seed) == (fake.image, "image/jpeg", 42)
    assert image.url is None and image.b64 is None


def _send_accepting_json(adapter, request: ImageRequest) -> httpx.Response:
    built = adapter.build_request(request, KEY)
    built.headers["Accept"] = "application/json"
    with httpx.Client(trust_env=False) as client:
        return client.send(built)


def test_a_json_answer_comes_back_as_base64_with_its_seed_and_type(fake, adapter):
    fake.seed = 7

    [image] = adapter.parse_response(_send_accepting_json(adapter, REQUEST))

    assert base64.b64decode(image.b64) == fake.image
    assert (image.content_type, image.seed, image.data) == ("image/png", 7, None)


def test_a_filtered_image_in_raw_mode_is_a_content_policy_refusal_not_a_blurred_success(fake, adapter):
    fake.keys = {KEY: "filtered"}

    error = failure_of(adapter, REQUEST, KEY)

    assert type(error) is errors.ContentPolicy and "CONTENT_FILTERED" in error.message


def test_a_filtered_image_in_json_mode_is_a_content_policy_refusal_too(fake, adapter):
    fake.keys = {KEY: "filtered"}
    response = _send_accepting_json(adapter, REQUEST)
    assert response.status_code == 200 and response.json()["image"]  # the blurred image is there ...

    with pytest.raises(errors.ContentPolicy):  # ... and is not delivered
        adapter.parse_response(response)


def test_the_sd3_service_is_told_the_model(fake):
    adapter = StabilityAdapter(VendorTarget(name="x", base_url=fake.url + "/v2beta/stable-image/generate/sd3"))

    assert call(adapter, ImageRequest(prompt="a lantern", model="sd3.5-large", ratio="2:3"), KEY)

    assert fake.forms[0]["model"] == "sd3.5-large"
    assert fake.requests[0].path == "/v2beta/stable-image/generate/sd3"


def test_a_base_short_of_the_service_gets_the_service_the_model_names(fake):
    adapter = StabilityAdapter(VendorTarget(name="x", base_url=fake.url + "/v2beta/"))

    for model in ("stable-image-ultra", "sd3.5-medium", "stable-image-core"):
        assert call(adapter, ImageRequest(prompt="a lantern", model=model), KEY)

    assert [r.path.rsplit("/", 1)[-1] for r in fake.requests] == ["ultra", "sd3", "core"]
    assert ["model" in form for form in fake.forms] == [False, True, False]


@pytest.mark.parametrize(
    ("base", "model", "expected"),
    [
        ("https://api.stability.ai/v2beta/stable-image/generate/core", "sd3.5-large", "/generate/core"),
        ("https://api.stability.ai/v2beta/stable-image/generate", "stable-image-ultra", "/generate/ultra"),
        ("https://api.stability.ai/v2beta/stable-image", "sd3.5-large-turbo", "/generate/sd3"),
        ("https://api.stability.ai", "stable-image-core", "/v2beta/stable-image/generate/core"),
    ],
)
def test_the_endpoint_is_the_base_or_the_base_completed(base, model, expected):
    adapter = StabilityAdapter(VendorTarget(name="x", base_url=base))

    url = adapter.build_request(ImageRequest(prompt="p", model=model), KEY).url

    assert str(url).endswith(expected) and str(url).count("/generate/") == 1


def test_the_ratio_sizing_chose_is_sent_and_a_ratio_stability_does_not_list_is_refused(fake, adapter):
    assert call(adapter, ImageRequest(prompt="a lantern", model="m", width=1536, height=640, ratio="21:9"), KEY)
    assert fake.forms[0]["aspect_ratio"] == "21:9"

    error = failure_of(adapter, ImageRequest(prompt="a lantern", model="m", width=1000, height=700), KEY)

    assert type(error) is errors.BadRequest and "aspect_ratio" in error.message


def test_a_403_content_moderation_is_the_prompt_refused_not_the_key(fake, adapter):
    fake.keys = {KEY: "moderated"}

    error = failure_of(adapter, REQUEST, KEY)

    assert type(error) is errors.ContentPolicy and not error.disables_key
    assert error.vendor_status == 403 and "content moderation" in error.message


@pytest.mark.parametrize(("header", "expected"), [(7, 60), (90, 90)])
def test_a_429_cools_the_key_for_at_least_the_60_second_lockout(fake, adapter, header, expected):
    fake.keys, fake.retry_after = {KEY: "rate_limited"}, header

    error = failure_of(adapter, REQUEST, KEY)

    assert type(error) is errors.RateLimited and error.retry_after == expected


@pytest.mark.parametrize(
    ("behaviour", "expected"),
    [
        ("invalid", errors.KeyRejected),  # 401
        ("no_credits", errors.KeyRejected),  # 402
        ("bad_request", errors.BadRequest),  # 400
        ("too_large", errors.BadRequest),  # 413
        ("rejected", errors.BadRequest),  # 422
        ("server_error", errors.UpstreamUnavailable),  # 500
        ("empty", errors.GenerationFailed),  # 200 without bytes
    ],
)
def test_each_vendor_failure_maps_to_its_error_class(fake, adapter, behaviour, expected):
    fake.keys = {KEY: behaviour}

    assert type(failure_of(adapter, REQUEST, KEY)) is expected


def test_the_credits_message_reaches_the_operator_without_the_link(fake, adapter):
    fake.keys = {KEY: "no_credits"}

    message = failure_of(adapter, REQUEST, KEY).message

    assert message.startswith("You lack sufficient credits") and "platform.example" not in message


def test_the_fake_refuses_a_body_that_is_not_multipart(fake, adapter):
    # The guard for the multipart test: JSON, as most vendors take, would be a 400 here.
    response = httpx.post(
        fake.url + CORE, json={"prompt": "x"}, headers={"Authorization": f"Bearer {KEY}"}, trust_env=False
    )

    error = adapter.classify_error(response)

    assert type(error) is errors.BadRequest and "multipart" in error.message


def _response(status: int, **kwargs) -> httpx.Response:
    request = httpx.Request("POST", "https://api.example/v2beta/stable-image/generate/core")
    return httpx.Response(status, request=request, **kwargs)


def test_a_403_that_is_not_stabilitys_json_is_an_outage_and_one_naming_the_key_a_key_problem():
    adapter = StabilityAdapter(VendorTarget(name="x", base_url="https://api.example/v2beta"))

    proxy_page = adapter.classify_error(_response(403, text="<html>Access denied</html>"))
    bad_key = adapter.classify_error(_response(403, json={"name": "forbidden", "errors": ["Invalid API key"]}))

    assert type(proxy_page) is errors.UpstreamUnavailable
    assert type(bad_key) is errors.KeyRejected


def test_a_json_answer_without_an_image_or_with_an_error_finish_is_a_generation_failure():
    adapter = StabilityAdapter(VendorTarget(name="x", base_url="https://api.example/v2beta"))

    for body in ({"finish_reason": "SUCCESS"}, {"image": "aGk=", "finish_reason": "ERROR"}):
        with pytest.raises(errors.GenerationFailed):
            adapter.parse_response(_response(200, json=body))


def test_the_form_parser_reads_what_httpx_sends():
    built = httpx.Request("POST", "https://x", files={"prompt": (None, "a: b; c"), "seed": (None, "3")})

    assert parse_form(built.headers["Content-Type"], built.read()) == {"prompt": "a: b; c", "seed": "3"}
