import json
import time

import httpx
import pytest

from tests.fakes.replicate import ReplicateFake
from tests.vendors.adapters import call, failure_of, fetch
from tests.vendors.adapters.test_polling import ForeignHost, cancel_while_polling
from vendors import errors
from vendors.adapters.base import ImageRequest, VendorTarget
from vendors.adapters.polling import JobLost
from vendors.adapters.replicate import ReplicateAdapter

KEY = "r8_replicate_test_key_0001"
VERSION = "5599ed30703defd1d160a25a63321b4dec97101d98b4674bcc56e41f62f35637"
REQUEST = ImageRequest(prompt="isometric tiny library", model="black-forest-labs/flux-schnell", width=1024, height=576)


@pytest.fixture
def fake():
    with ReplicateFake() as server:
        yield server


def make(fake, *, timeout: float = 10.0, base: str | None = None) -> ReplicateAdapter:
    adapter = ReplicateAdapter(VendorTarget(name="replicate", base_url=base or fake.url + "/v1", timeout=timeout))
    adapter.poll_first, adapter.poll_max, adapter.cancel_timeout = 0.01, 0.03, 2.0
    return adapter


@pytest.fixture
def adapter(fake):
    return make(fake)


def test_an_official_model_is_created_on_its_model_route_with_bearer_wait_and_aspect_ratio(fake, adapter):
    call(adapter, ImageRequest(prompt="a lantern", model="black-forest-labs/flux-schnell", width=1344, height=756), KEY)

    create = fake.creates()[0]
    assert create.path == "/v1/models/black-forest-labs/flux-schnell/predictions"
    assert create.headers["Authorization"] == f"Bearer {KEY}"
    assert create.headers["Prefer"] == "wait=7"  # at most 60 s, and time left within the 10 s budget
    assert create.headers["Cancel-After"] == "10s"
    assert create.json == {"input": {"prompt": "a lantern", "aspect_ratio": "16:9"}}


def test_the_wait_is_capped_at_60_seconds_and_left_out_when_the_budget_is_tiny(fake):
    assert make(fake, timeout=300).build_request(REQUEST, KEY).headers["Prefer"] == "wait=60"
    assert "Prefer" not in make(fake, timeout=1).build_request(REQUEST, KEY).headers


def test_more_than_one_image_asks_for_num_outputs_up_to_the_batch_limit(fake, adapter):
    images = call(adapter, ImageRequest(prompt="a lantern", model="black-forest-labs/flux-schnell", n=3), KEY)

    assert fake.creates()[0].json["input"]["num_outputs"] == 3
    assert len(images) == 3
    capped = adapter.build_request(ImageRequest(prompt="x", model="a/b", n=9), KEY)
    assert json.loads(capped.content)["input"]["num_outputs"] == 4


@pytest.mark.parametrize("model", [VERSION, f"stability-ai/sdxl:{VERSION}"])
def test_a_version_id_is_created_on_the_predictions_route_with_the_version(fake, adapter, model):
    images = call(adapter, ImageRequest(prompt="a lantern", model=model), KEY)

    create = fake.creates()[0]
    assert create.path == "/v1/predictions"
    assert create.json["version"] == VERSION
    assert images


def test_a_deployment_is_created_on_its_deployment_route(fake, adapter):
    call(adapter, ImageRequest(prompt="a lantern", model="deployments/acme/my-flux"), KEY)

    assert fake.creates()[0].path == "/v1/deployments/acme/my-flux/predictions"


@pytest.mark.parametrize("model", ["flux-schnell", "a/b/c", "owner/name:not-a-version"])
def test_a_model_name_replicate_cannot_take_is_a_bad_request_and_nothing_is_sent(fake, adapter, model):
    error = failure_of(adapter, ImageRequest(prompt="x", model=model), KEY)

    assert type(error) is errors.BadRequest
    assert fake.requests == []


def test_an_unfinished_prediction_is_polled_until_it_succeeds_with_the_same_key(fake, adapter):
    fake.polls_to_finish = 3

    images = call(adapter, REQUEST, KEY)

    assert [(r.method, r.path.split("/")[2]) for r in fake.requests] == [("POST", "models")] + [
        ("GET", "predictions")
    ] * 3
    assert set(fake.keys_used()) == {KEY}
    assert len(images) == 1 and images[0].url.startswith(fake.url + "/files/")
    assert fetch(images[0].url).content == fake.image


def test_with_prefer_wait_a_quick_model_answers_in_one_call(fake, adapter):
    fake.answer_within_wait = True

    images = call(adapter, REQUEST, KEY)

    assert len(fake.requests) == 1 and len(images) == 1


def test_a_single_url_string_output_is_one_image(fake, adapter):
    fake.output_kind = "string"

    [image] = call(adapter, REQUEST, KEY)

    assert fetch(image.url).status_code == 200


def test_output_filled_while_still_processing_is_used_without_waiting_for_succeeded(fake, adapter):
    fake.early_output, fake.polls_to_finish = True, 50

    images = call(adapter, REQUEST, KEY)

    assert len(images) == 1
    assert len(fake.requests) == 2  # the create and one GET


def test_the_nsfw_safety_checker_failure_is_a_content_policy_refusal(fake, adapter):
    fake.keys = {KEY: "nsfw"}

    error = failure_of(adapter, REQUEST, KEY)

    assert type(error) is errors.ContentPolicy
    assert "NSFW content detected" in error.message
    assert error.tries_next_key is False


@pytest.mark.parametrize("behaviour", ["failed", "canceled", "empty"])
def test_a_prediction_that_ended_without_an_image_is_a_generation_failure(fake, adapter, behaviour):
    fake.keys = {KEY: behaviour}

    error = failure_of(adapter, REQUEST, KEY)

    assert type(error) is errors.GenerationFailed
    assert len(fake.creates()) == 1


def test_a_failure_message_is_the_predictions_own_error(fake, adapter):
    fake.keys = {KEY: "failed"}

    assert "CUDA out of memory" in failure_of(adapter, REQUEST, KEY).message


@pytest.mark.parametrize(
    ("behaviour", "expected", "words"),
    [
        ("invalid", errors.KeyRejected, "valid authentication token"),
        ("no_credit", errors.KeyRejected, "insufficient credit"),
        ("invalid_input", errors.BadRequest, "aspect_ratio must be 1:1, 16:9"),
        ("server_error", errors.UpstreamUnavailable, "Internal server error"),
    ],
)
def test_problem_details_map_to_their_error_class_with_the_detail(fake, adapter, behaviour, expected, words):
    fake.keys = {KEY: behaviour}

    error = failure_of(adapter, REQUEST, KEY)

    assert type(error) is expected
    assert words in error.message


def test_an_unknown_model_is_a_bad_request_saying_so(fake, adapter):
    error = failure_of(adapter, ImageRequest(prompt="x", model="missing/model"), KEY)

    assert type(error) is errors.BadRequest and error.vendor_status == 404
    assert "not found" in error.message


def test_a_throttled_create_is_a_rate_limit_with_the_wait_from_the_detail(fake, adapter):
    fake.keys, fake.retry_after = {KEY: "throttled"}, 9

    error = failure_of(adapter, REQUEST, KEY)

    assert type(error) is errors.RateLimited
    assert error.retry_after == 9


def test_a_429_without_the_wording_honours_retry_after():
    adapter = ReplicateAdapter(VendorTarget(name="r", base_url="https://api.replicate.com/v1"))
    response = httpx.Response(
        429,
        json={"detail": "Too many requests", "status": 429},
        headers={"Retry-After": "4"},
        request=httpx.Request("POST", "https://api.replicate.com/v1/predictions"),
    )

    error = adapter.classify_error(response)

    assert type(error) is errors.RateLimited and error.retry_after == 4


def test_failing_polls_are_retried_without_a_second_prediction(fake, adapter):
    fake.poll_failures = 2

    images = call(adapter, REQUEST, KEY)

    assert images and len(fake.creates()) == 1


def test_a_prediction_that_never_finishes_times_out_once_submitted_and_is_cancelled(fake):
    adapter = make(fake, timeout=0.5)
    fake.keys = {KEY: "never"}
    started = time.monotonic()

    error = failure_of(adapter, REQUEST, KEY)

    assert type(error) is errors.UpstreamTimeout and error.tries_next_key is False
    assert time.monotonic() - started < 2.5
    assert len(fake.creates()) == 1
    [prediction_id] = fake.predictions
    assert prediction_id in error.message and "not resubmitted" in error.message
    assert fake.cancelled == [prediction_id]


def test_a_cancelled_call_cancels_the_prediction_with_the_same_key(fake, adapter):
    fake.keys = {KEY: "never"}

    cancel_while_polling(adapter, REQUEST, KEY, started=lambda: any(r.method == "GET" for r in fake.requests))

    [prediction_id] = fake.predictions
    assert fake.cancelled == [prediction_id]
    cancel = fake.requests[-1]
    assert (cancel.method, cancel.path) == ("POST", f"/v1/predictions/{prediction_id}/cancel")
    assert cancel.headers["Authorization"] == f"Bearer {KEY}"


def test_urls_on_a_foreign_host_do_not_get_the_key(fake, adapter):
    with ForeignHost() as elsewhere:
        fake.urls_base = elsewhere.foreign_base()

        images = call(adapter, REQUEST, KEY)

        assert images
        assert elsewhere.requests == []
    [prediction_id] = fake.predictions
    assert [r.path for r in fake.requests if r.method == "GET"] == [f"/v1/predictions/{prediction_id}"] * 2


def test_a_poll_the_vendor_refuses_ends_without_trying_another_key(fake, adapter):
    adapter.auth_headers = lambda key: {"Authorization": "Bearer r8_someone_else"}

    error = failure_of(adapter, REQUEST, KEY)

    assert type(error) is JobLost and error.tries_next_key is False
    assert len(fake.creates()) == 1


def test_a_base_url_without_v1_works_too(fake):
    adapter = make(fake, base=fake.url)

    assert call(adapter, REQUEST, KEY)
    assert fake.creates()[0].path.startswith("/v1/models/")


def test_width_and_height_go_with_a_custom_aspect_ratio(fake, adapter):
    request = ImageRequest(
        prompt="x", model="black-forest-labs/flux-dev", width=1280, height=720, size_format="width_height"
    )

    call(adapter, request, KEY)

    assert fake.creates()[0].json["input"] == {"prompt": "x", "aspect_ratio": "custom", "width": 1280, "height": 720}


@pytest.mark.parametrize(
    ("detail", "expected"),
    [
        ("You do not have permission to run this model.", errors.BadRequest),  # a model this account cannot use
        ("Insufficient credit to run this model.", errors.KeyRejected),
    ],
)
def test_a_403_disables_the_key_only_when_it_is_about_the_key(detail, expected):
    adapter = ReplicateAdapter(VendorTarget(name="r", base_url="https://api.replicate.com/v1"))
    response = httpx.Response(
        403,
        json={"title": "Forbidden", "detail": detail, "status": 403},
        request=httpx.Request("POST", "https://api.replicate.com/v1/models/a/b/predictions"),
    )

    assert type(adapter.classify_error(response)) is expected
