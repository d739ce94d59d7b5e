import base64
import time

import httpx
import pytest

from tests.fakes.server import jpeg_bytes
from tests.fakes.siliconflow import SiliconFlowFake
from tests.vendors.adapters import call, failure_of, fetch
from vendors import errors
from vendors.adapters.base import ImageRequest, VendorTarget
from vendors.adapters.siliconflow import SiliconFlowAdapter

KEY = "sk-siliconflow-test-0001"
REQUEST = ImageRequest(prompt="a red paper lantern", model="Kwai-Kolors/Kolors", width=960, height=1280, n=2)


@pytest.fixture
def fake():
    with SiliconFlowFake() as server:
        yield server


@pytest.fixture
def adapter(fake):
    return SiliconFlowAdapter(VendorTarget(name="x", base_url=fake.url + "/v1"))


def test_it_posts_model_prompt_size_and_batch_size_with_the_key_as_bearer(fake, adapter):
    call(adapter, REQUEST, KEY)

    [sent] = fake.requests
    assert (sent.method, sent.path) == ("POST", "/v1/images/generations")
    assert sent.headers["Authorization"] == f"Bearer {KEY}"
    assert sent.json == {
        "model": "Kwai-Kolors/Kolors",
        "prompt": "a red paper lantern",
        "image_size": "960x1280",
        "batch_size": 2,
    }


def test_it_returns_one_fetchable_url_per_image_with_the_seed(fake, adapter):
    fake.image = jpeg_bytes()

    images = call(adapter, REQUEST, KEY)

    assert len(images) == 2
    assert all(image.url.startswith(fake.url + "/files/") for image in images)
    assert all(isinstance(image.seed, int) for image in images)
    assert fetch(images[0].url).content == fake.image


def test_a_base_url_that_is_already_the_full_endpoint_is_used_as_is(fake):
    adapter = SiliconFlowAdapter(VendorTarget(name="x", base_url=fake.url + "/v1/images/generations"))

    images = call(adapter, REQUEST, KEY)

    assert images and [r.path for r in fake.requests] == ["/v1/images/generations"]


def test_a_bare_json_string_401_means_the_key_is_rejected(fake, adapter):
    fake.keys = {KEY: "invalid"}

    error = failure_of(adapter, REQUEST, KEY)

    assert type(error) is errors.KeyRejected
    assert error.message == "Invalid token" and error.vendor_status == 401


def test_a_429_is_a_rate_limit_that_honours_retry_after(fake, adapter):
    fake.keys, fake.retry_after = {KEY: "rate_limited"}, 12

    error = failure_of(adapter, REQUEST, KEY)

    assert type(error) is errors.RateLimited
    assert error.retry_after == 12
    assert "IPM limit reached" in error.message


@pytest.mark.parametrize(
    ("behaviour", "expected"),
    [
        ("forbidden", errors.KeyRejected),  # 403 code 30003 "Model disabled."
        ("no_balance", errors.KeyRejected),
        ("moderated", errors.ContentPolicy),
        ("bad_model", errors.BadRequest),
        ("overloaded", errors.UpstreamUnavailable),
        ("gateway_timeout", errors.UpstreamUnavailable),
        ("server_error", errors.UpstreamUnavailable),
        ("empty", errors.GenerationFailed),
    ],
)
def test_each_vendor_failure_maps_to_its_error_class(fake, adapter, behaviour, expected):
    fake.keys = {KEY: behaviour}

    assert type(failure_of(adapter, REQUEST, KEY)) is expected


def test_a_bad_request_carries_the_vendor_reason(fake, adapter):
    fake.keys = {KEY: "bad_model"}

    assert "Model does not exist" in failure_of(adapter, REQUEST, KEY).message


def test_a_vendor_slower_than_the_budget_is_an_upstream_timeout(fake):
    adapter = SiliconFlowAdapter(VendorTarget(name="x", base_url=fake.url + "/v1", timeout=0.3))
    fake.keys, fake.slow_seconds = {KEY: "slow"}, 1.0

    assert type(failure_of(adapter, REQUEST, KEY)) is errors.UpstreamTimeout


def test_hosted_urls_expire_after_the_ttl_or_on_demand(fake, adapter):
    first = call(adapter, REQUEST, KEY)[0].url
    fake.url_ttl = 0.2
    time.sleep(0.3)
    assert fetch(first).status_code == 404

    fake.url_ttl = None
    second = call(adapter, REQUEST, KEY)[0].url
    assert fetch(second).status_code == 200
    fake.expire_files()
    assert fetch(second).status_code == 404


def _response(status: int, **kwargs) -> httpx.Response:
    return httpx.Response(status, request=httpx.Request("POST", "https://api.example/v1/images/generations"), **kwargs)


def test_openai_style_data_with_urls_or_base64_is_accepted():
    adapter = SiliconFlowAdapter(VendorTarget(name="x", base_url="https://api.example/v1"))
    encoded = base64.b64encode(b"png").decode()

    images = adapter.parse_response(
        _response(200, json={"data": [{"url": "https://cdn/a.png"}, {"b64_json": encoded}]})
    )

    assert [(image.url, image.b64) for image in images] == [("https://cdn/a.png", None), (None, encoded)]


def test_a_plain_text_403_is_a_key_problem_and_a_plain_text_404_a_bad_request():
    adapter = SiliconFlowAdapter(VendorTarget(name="x", base_url="https://api.example/v1"))

    assert type(adapter.classify_error(_response(403, text="Forbidden"))) is errors.KeyRejected
    assert type(adapter.classify_error(_response(404, text="404 page not found"))) is errors.BadRequest


def test_a_single_image_request_leaves_out_the_kolors_only_batch_size(fake, adapter):
    call(adapter, ImageRequest(prompt="a lantern", model="black-forest-labs/FLUX.1-schnell", n=1), KEY)
    assert "batch_size" not in fake.requests[0].json
