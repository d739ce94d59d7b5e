import time

import pytest

from tests.fakes.bfl import BFLFake
from tests.vendors.adapters import call, failure_of, fetch
from tests.vendors.adapters.test_polling import ForeignHost, cancel_while_polling
from vendors import errors
from vendors.adapters.base import ImageRequest, VendorTarget
from vendors.adapters.bfl import BFLAdapter
from vendors.adapters.polling import JobLost

KEY = "bfl-test-key-0001"
REQUEST = ImageRequest(prompt="macro photo of a dew-covered leaf", model="flux-pro-1.1", width=1024, height=768)


@pytest.fixture
def fake():
    with BFLFake() as server:
        yield server


def make(fake, *, timeout: float = 10.0, base: str | None = None) -> BFLAdapter:
    adapter = BFLAdapter(VendorTarget(name="bfl", base_url=base or fake.url, timeout=timeout))
    adapter.poll_first, adapter.poll_max = 0.01, 0.03
    return adapter


@pytest.fixture
def adapter(fake):
    return make(fake)


def test_it_submits_prompt_width_and_height_with_the_key_in_x_key(fake, adapter):
    call(adapter, REQUEST, KEY)

    submit = fake.submits()[0]
    assert submit.path == "/v1/flux-pro-1.1"
    assert submit.headers["x-key"] == KEY
    assert "Authorization" not in submit.headers
    assert submit.json == {"prompt": "macro photo of a dew-covered leaf", "width": 1024, "height": 768}


def test_it_polls_pending_until_ready_and_returns_the_signed_sample_url_with_the_seed(fake, adapter):
    fake.pending_polls = 3

    [image] = call(adapter, REQUEST, KEY)

    assert len(fake.polls()) == 4 and len(fake.submits()) == 1
    assert set(fake.keys_used()) == {KEY}
    assert image.url.startswith(fake.url + "/files/") and "sig=" in image.url
    assert image.seed == 98231
    assert fetch(image.url).content == fake.image


def test_the_sample_url_expires_like_the_real_ten_minute_one(fake, adapter):
    [image] = call(adapter, REQUEST, KEY)
    fake.expire_files()

    assert fetch(image.url).status_code == 404


def test_sizes_that_are_not_multiples_of_32_are_rounded_so_the_api_accepts_them(fake, adapter):
    images = call(adapter, ImageRequest(prompt="a leaf", model="flux-pro-1.1", width=1000, height=750), KEY)

    assert images
    assert fake.submits()[0].json["width"] == 992 and fake.submits()[0].json["height"] == 736


@pytest.mark.parametrize("model", ["flux-pro-1.1-ultra", "flux-kontext-pro"])
def test_ultra_and_kontext_take_an_aspect_ratio_by_default(fake, adapter, model):
    call(adapter, ImageRequest(prompt="a leaf", model=model, width=1344, height=576), KEY)

    assert fake.submits()[0].json == {"prompt": "a leaf", "aspect_ratio": "7:3"}


def test_the_models_size_format_wins_over_the_default(fake, adapter):
    request = ImageRequest(prompt="a leaf", model="flux-2-pro", width=1024, height=1024, size_format="aspect_ratio")

    call(adapter, request, KEY)

    assert fake.submits()[0].json == {"prompt": "a leaf", "aspect_ratio": "1:1"}


@pytest.mark.parametrize(
    ("behaviour", "status"), [("request_moderated", "Request Moderated"), ("content_moderated", "Content Moderated")]
)
def test_moderation_reported_by_the_poll_is_a_content_policy_refusal(fake, adapter, behaviour, status):
    fake.keys = {KEY: behaviour}

    error = failure_of(adapter, REQUEST, KEY)

    assert type(error) is errors.ContentPolicy and error.tries_next_key is False
    assert status in error.message and "Derivative Works Filter" in error.message


def test_a_job_that_ends_in_error_is_a_generation_failure(fake, adapter):
    fake.keys = {KEY: "error"}

    error = failure_of(adapter, REQUEST, KEY)

    assert type(error) is errors.GenerationFailed
    assert "Generation failed on the worker" in error.message


@pytest.mark.parametrize(
    ("behaviour", "expected"),
    [
        ("no_credits", errors.KeyRejected),
        ("forbidden", errors.KeyRejected),
        ("rate_limited", errors.RateLimited),
        ("server_error", errors.UpstreamUnavailable),
    ],
)
def test_submit_failures_map_to_their_error_class(fake, adapter, behaviour, expected):
    fake.keys = {KEY: behaviour}

    error = failure_of(adapter, REQUEST, KEY)

    assert type(error) is expected
    assert fake.polls() == []


def test_a_402_message_keeps_the_reason_but_not_the_dashboard_url(fake, adapter):
    fake.keys = {KEY: "no_credits"}

    assert "Insufficient credits" in failure_of(adapter, REQUEST, KEY).message


def test_a_fastapi_validation_error_is_a_bad_request_naming_the_field(fake, adapter):
    request = ImageRequest(prompt="a leaf", model="flux-pro-1.1", width=4096, height=768)

    error = failure_of(adapter, request, KEY)

    assert type(error) is errors.BadRequest and error.vendor_status == 422
    assert error.message.startswith("width: Input should be a multiple of 32")


def test_task_not_found_right_after_the_submit_is_polled_again(fake, adapter):
    fake.lost_polls = 2

    assert call(adapter, REQUEST, KEY)
    assert len(fake.submits()) == 1


def test_a_task_that_stays_not_found_ends_without_a_resubmission(fake, adapter):
    fake.keys = {KEY: "lost"}

    error = failure_of(adapter, REQUEST, KEY)

    assert type(error) is JobLost and error.tries_next_key is False
    assert len(fake.submits()) == 1 and len(fake.polls()) == adapter.not_found_limit + 1


def test_a_failing_poll_is_retried_within_the_deadline(fake, adapter):
    fake.poll_failures = 3

    assert call(adapter, REQUEST, KEY)
    assert len(fake.submits()) == 1


def test_a_job_pending_past_the_deadline_is_a_timeout_and_is_never_resubmitted(fake):
    adapter = make(fake, timeout=0.4)
    fake.keys = {KEY: "never"}
    started = time.monotonic()

    error = failure_of(adapter, REQUEST, KEY)

    assert type(error) is errors.UpstreamTimeout and error.tries_next_key is False
    assert time.monotonic() - started < 2.0
    assert len(fake.submits()) == 1 and len(fake.polls()) > 2
    assert "0.4 s" in error.message and "not resubmitted" in error.message


def test_a_cancelled_call_stops_polling_at_once(fake, adapter):
    fake.keys = {KEY: "never"}

    cancel_while_polling(adapter, REQUEST, KEY, started=lambda: len(fake.polls()) >= 1)
    seen = len(fake.requests)
    time.sleep(0.1)

    assert len(fake.requests) == seen  # no poll after the cancel; BFL has no cancel request to send
    assert all(r.method in ("GET", "POST") for r in fake.requests)


def test_a_polling_url_on_a_foreign_host_does_not_get_the_key(fake, adapter):
    with ForeignHost() as elsewhere:
        fake.polling_base = elsewhere.foreign_base()

        images = call(adapter, REQUEST, KEY)

        assert images
        assert elsewhere.requests == []
    [job_id] = fake.jobs
    assert [r.query for r in fake.polls()] == [{"id": job_id}] * 3
    assert all(r.headers["x-key"] == KEY for r in fake.polls())


def test_a_base_url_ending_in_v1_works_too(fake):
    adapter = make(fake, base=fake.url + "/v1/")

    assert call(adapter, REQUEST, KEY)
    assert fake.submits()[0].path == "/v1/flux-pro-1.1"
