import asyncio
import time

import httpx
import pytest

from tests.fakes.fal import FalFake
from tests.vendors.adapters import call, failure_of, fetch
from tests.vendors.adapters.test_polling import ForeignHost, cancel_while_polling
from vendors import errors
from vendors.adapters import polling
from vendors.adapters.base import ImageRequest, VendorTarget
from vendors.adapters.fal import FalAdapter
from vendors.adapters.polling import JobLost

KEY = "fal-test-key-0001:secret"
REQUEST = ImageRequest(prompt="a lighthouse in fog", model="fal-ai/flux/schnell", width=1024, height=576)


@pytest.fixture
def fake():
    with FalFake() as server:
        yield server


def make(fake, *, timeout: float = 10.0) -> FalAdapter:
    adapter = FalAdapter(VendorTarget(name="fal", base_url=fake.url, timeout=timeout))
    adapter.poll_first, adapter.poll_max, adapter.cancel_timeout = 0.01, 0.03, 2.0
    return adapter


@pytest.fixture
def adapter(fake):
    return make(fake)


def test_it_submits_to_the_model_path_with_key_auth_and_a_preset_size(fake, adapter):
    call(adapter, REQUEST, KEY)

    submit = fake.submits()[0]
    assert submit.path == "/fal-ai/flux/schnell"
    assert submit.headers["Authorization"] == f"Key {KEY}"
    assert submit.json == {"prompt": "a lighthouse in fog", "image_size": "landscape_16_9"}


def test_it_polls_status_then_fetches_the_result_on_the_apps_urls(fake, adapter):
    fake.polls_to_finish = 3

    [image] = call(adapter, REQUEST, KEY)

    [request_id] = fake.jobs
    base = f"/fal-ai/flux/requests/{request_id}"
    assert [(r.method, r.path) for r in fake.requests] == [
        ("POST", "/fal-ai/flux/schnell"),
        ("GET", base + "/status"),
        ("GET", base + "/status"),
        ("GET", base + "/status"),
        ("GET", base),
    ]
    assert set(fake.keys_used()) == {KEY}
    assert image.content_type == "image/png" and image.seed == 271828
    assert fetch(image.url).content == fake.image


@pytest.mark.parametrize(
    ("width", "height", "preset"),
    [
        (1024, 1024, "square_hd"),
        (512, 512, "square"),
        (768, 1024, "portrait_4_3"),
        (576, 1024, "portrait_16_9"),
        (1024, 768, "landscape_4_3"),
        (1024, 576, "landscape_16_9"),
    ],
)
def test_exact_preset_sizes_are_sent_by_name(adapter, width, height, preset):
    request = ImageRequest(prompt="x", model="fal-ai/flux/schnell", width=width, height=height)

    assert adapter.size_fields(request) == {"image_size": preset}


def test_other_sizes_and_the_width_height_format_send_the_object(fake, adapter):
    call(adapter, ImageRequest(prompt="x", model="fal-ai/flux/dev", width=1280, height=720), KEY)
    square = ImageRequest(prompt="x", model="fal-ai/flux/dev", width=1024, height=1024, size_format="width_height")

    assert fake.submits()[0].json["image_size"] == {"width": 1280, "height": 720}
    assert adapter.size_fields(square) == {"image_size": {"width": 1024, "height": 1024}}


def test_more_than_one_image_asks_for_num_images(fake, adapter):
    images = call(adapter, ImageRequest(prompt="x", model="fal-ai/flux/schnell", n=2), KEY)

    assert fake.submits()[0].json["num_images"] == 2
    assert len(images) == 2 and images[0].url != images[1].url


def test_an_image_the_safety_checker_flagged_is_a_content_policy_refusal(fake, adapter):
    fake.keys = {KEY: "nsfw"}

    error = failure_of(adapter, REQUEST, KEY)

    assert type(error) is errors.ContentPolicy and error.tries_next_key is False


def test_only_the_unflagged_images_of_a_batch_are_returned(fake, adapter):
    fake.keys = {KEY: "one_nsfw"}

    images = call(adapter, ImageRequest(prompt="x", model="fal-ai/flux/schnell", n=3), KEY)

    assert len(images) == 2


@pytest.mark.parametrize("behaviour", ["policy", "policy_at_submit"])
def test_a_422_content_policy_violation_is_a_content_policy_refusal(fake, adapter, behaviour):
    fake.keys = {KEY: behaviour}

    error = failure_of(adapter, REQUEST, KEY)

    assert type(error) is errors.ContentPolicy
    assert "flagged by a content checker" in error.message
    assert len(fake.submits()) == 1


def test_an_ordinary_422_from_the_model_is_a_bad_request_with_the_field(fake, adapter):
    fake.keys = {KEY: "invalid"}

    error = failure_of(adapter, REQUEST, KEY)

    assert type(error) is errors.BadRequest
    assert error.message == "num_inference_steps: Input should be less than or equal to 12"


def test_a_model_that_timed_out_after_the_submit_is_a_generation_failure(fake, adapter):
    fake.keys = {KEY: "model_timeout"}

    error = failure_of(adapter, REQUEST, KEY)

    assert type(error) is errors.GenerationFailed and error.vendor_status == 504
    assert "Request timed out" in error.message


@pytest.mark.parametrize(
    ("behaviour", "expected"),
    [
        ("unauthorized", errors.KeyRejected),
        ("locked", errors.KeyRejected),  # 403 "User is locked. Reason: Exhausted balance"
        ("rate_limited", errors.RateLimited),
        ("no_runner", errors.UpstreamUnavailable),  # error_type runner_scheduling_failure
    ],
)
def test_submit_failures_map_to_their_error_class(fake, adapter, behaviour, expected):
    fake.keys = {KEY: behaviour}

    error = failure_of(adapter, REQUEST, KEY)

    assert type(error) is expected
    assert len(fake.requests) == 1


def test_the_locked_account_message_says_why_and_the_rate_limit_honours_retry_after(fake, adapter):
    fake.keys = {KEY: "locked"}
    assert "Exhausted balance" in failure_of(adapter, REQUEST, KEY).message

    fake.keys, fake.retry_after = {KEY: "rate_limited"}, 11
    assert failure_of(adapter, REQUEST, KEY).retry_after == 11


def test_an_error_type_header_alone_marks_an_infrastructure_failure():
    adapter = FalAdapter(VendorTarget(name="fal", base_url="https://queue.fal.run"))
    response = httpx.Response(
        400,
        text="runner went away",
        headers={"X-Fal-Error-Type": "runner_disconnected"},
        request=httpx.Request("POST", "https://queue.fal.run/fal-ai/flux/schnell"),
    )

    assert type(adapter.classify_error(response)) is errors.UpstreamUnavailable


def test_failing_status_polls_are_retried_without_a_second_submit(fake, adapter):
    fake.poll_failures = 2

    assert call(adapter, REQUEST, KEY)
    assert len(fake.submits()) == 1


def test_a_request_that_never_completes_times_out_once_submitted_and_is_cancelled(fake):
    adapter = make(fake, timeout=0.4)
    fake.keys = {KEY: "never"}
    started = time.monotonic()

    error = failure_of(adapter, REQUEST, KEY)

    assert type(error) is errors.UpstreamTimeout and error.tries_next_key is False
    assert time.monotonic() - started < 2.0
    assert len(fake.submits()) == 1
    assert fake.cancelled == list(fake.jobs)
    assert "not resubmitted" in error.message


def test_a_cancelled_call_puts_the_cancel_with_the_key(fake, adapter):
    fake.keys = {KEY: "never"}

    cancel_while_polling(adapter, REQUEST, KEY, started=lambda: len(fake.requests) >= 2)

    [request_id] = fake.jobs
    assert fake.cancelled == [request_id]
    cancel = fake.requests[-1]
    assert (cancel.method, cancel.path) == ("PUT", f"/fal-ai/flux/requests/{request_id}/cancel")
    assert cancel.headers["Authorization"] == f"Key {KEY}"


def test_queue_urls_on_a_foreign_host_do_not_get_the_key(fake, adapter):
    with ForeignHost() as elsewhere:
        fake.urls_base = elsewhere.foreign_base()

        images = call(adapter, REQUEST, KEY)

        assert images
        assert elsewhere.requests == []
    [request_id] = fake.jobs
    assert fake.requests[-1].path == f"/fal-ai/flux/requests/{request_id}"


def test_a_status_poll_the_vendor_refuses_ends_without_trying_another_key(fake, adapter):
    submit_headers = iter([adapter.auth_headers(KEY)])  # the submit goes with the key; the polls do not
    adapter.auth_headers = lambda key: next(submit_headers, {"Authorization": "Key someone-else"})

    error = failure_of(adapter, REQUEST, KEY)

    assert type(error) is JobLost and error.tries_next_key is False
    assert len(fake.submits()) == 1 and fake.requests[1].path.endswith("/status")


def test_a_model_id_without_an_app_is_a_bad_request_and_nothing_is_sent(fake, adapter):
    error = failure_of(adapter, ImageRequest(prompt="x", model="flux-schnell"), KEY)

    assert type(error) is errors.BadRequest and fake.requests == []


def test_a_sync_endpoint_answering_with_the_output_is_accepted():
    adapter = FalAdapter(VendorTarget(name="fal", base_url="https://fal.run"))
    body = {"images": [{"url": "data:image/png;base64,iVBORw0KGgo=", "content_type": "image/png"}]}

    def answer(request):
        return httpx.Response(200, json=body)

    async def run():
        async with httpx.AsyncClient(transport=httpx.MockTransport(answer)) as client:
            return await adapter.call(client, REQUEST, KEY)

    [image] = asyncio.run(run())
    assert image.b64 == body["images"][0]["url"] and image.url is None


@pytest.mark.parametrize(
    ("status", "body", "expected"),
    [
        (422, {"detail": [{"msg": "flagged", "type": "content_policy_violation"}]}, errors.ContentPolicy),
        (422, {"detail": [{"msg": "too big", "type": "less_than_equal"}]}, errors.BadRequest),
        (504, {"detail": "Request timed out", "error_type": "request_timeout"}, errors.GenerationFailed),
        (503, {"detail": "the model crashed"}, errors.GenerationFailed),  # the job is over; fal retried it already
        (503, "upstream connect error", errors.UpstreamUnavailable),  # the queue, not the job: polled again
        (408, {"detail": "Request timeout"}, errors.UpstreamUnavailable),
        (429, {"detail": "Too many requests"}, errors.RateLimited),
        (401, {"detail": "Invalid authentication credentials"}, JobLost),
        (404, {"detail": "Request not found"}, JobLost),
    ],
)
def test_a_result_error_is_the_models_own_or_the_polls(status, body, expected):
    adapter = FalAdapter(VendorTarget(name="fal", base_url="https://queue.fal.run"))
    request = httpx.Request("GET", "https://queue.fal.run/fal-ai/flux/requests/r1")
    content = {"json": body} if isinstance(body, dict) else {"text": body}
    job = polling.Job(id="r1", deadline=time.monotonic() + 10, poll_url="https://queue.fal.run/x")

    error = adapter.result_error(httpx.Response(status, request=request, **content), body, job)

    assert type(error) is expected
