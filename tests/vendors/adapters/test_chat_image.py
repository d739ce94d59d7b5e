import base64

import httpx
import pytest

from tests.fakes.chat_image import ChatImageFake
from tests.fakes.server import jpeg_bytes
from tests.vendors.adapters import call, failure_of, fetch
from vendors import errors
from vendors.adapters.base import ImageRequest, VendorTarget
from vendors.adapters.chat_image import ChatImageAdapter

KEY = "sk-or-v1-chatimage-test-0001"
REQUEST = ImageRequest(prompt="a red paper lantern", model="google/gemini-2.5-flash-image", width=1024, height=576)


@pytest.fixture
def fake():
    with ChatImageFake() as server:
        yield server


@pytest.fixture
def adapter(fake):
    return ChatImageAdapter(VendorTarget(name="x", base_url=fake.url + "/v1"))


def test_it_asks_for_an_image_modality_and_the_aspect_ratio_without_streaming(fake, adapter):
    call(adapter, REQUEST, KEY)

    [sent] = fake.requests
    assert (sent.path, sent.headers["Authorization"]) == ("/v1/chat/completions", f"Bearer {KEY}")
    assert sent.json == {
        "model": "google/gemini-2.5-flash-image",
        "messages": [{"role": "user", "content": "a red paper lantern"}],
        "modalities": ["image", "text"],
        "image_config": {"aspect_ratio": "16:9"},
        "stream": False,
    }


@pytest.mark.parametrize("mode", ["images_array", "markdown_data_url", "content_parts", "bare_data_url"])
def test_a_data_url_anywhere_in_the_answer_becomes_base64_with_its_mime_type(fake, adapter, mode):
    fake.mode, fake.image = mode, jpeg_bytes()

    [image] = call(adapter, REQUEST, KEY)

    assert base64.b64decode(image.b64) == fake.image
    assert (image.content_type, image.url, image.data) == ("image/jpeg", None, None)


@pytest.mark.parametrize("mode", ["markdown_https_url", "bare_https_url"])
def test_an_image_link_in_the_text_becomes_a_url_to_fetch(fake, adapter, mode):
    fake.mode = mode

    [image] = call(adapter, REQUEST, KEY)

    assert image.url.startswith(fake.url + "/files/") and image.url.endswith(".png")
    assert fetch(image.url).content == fake.image


def test_a_raw_image_body_is_returned_as_bytes(fake, adapter):
    fake.mode = "raw_bytes"

    [image] = call(adapter, REQUEST, KEY)

    assert (image.data, image.content_type) == (fake.image, "image/png")


def test_a_base_url_that_is_already_the_full_endpoint_is_used_as_is(fake):
    adapter = ChatImageAdapter(VendorTarget(name="x", base_url=fake.url + "/v1/chat/completions"))

    assert call(adapter, REQUEST, KEY)
    assert [r.path for r in fake.requests] == ["/v1/chat/completions"]


@pytest.mark.parametrize(
    ("mode", "expected"), [("text_refusal", errors.ContentPolicy), ("text_only", errors.GenerationFailed)]
)
def test_an_answer_without_an_image_is_a_refusal_only_when_it_reads_like_one(fake, adapter, mode, expected):
    fake.mode = mode

    assert type(failure_of(adapter, REQUEST, KEY)) is expected


def test_a_content_filter_finish_reason_is_a_content_policy_refusal(fake, adapter):
    fake.mode = "content_filter"

    assert type(failure_of(adapter, REQUEST, KEY)) is errors.ContentPolicy


@pytest.mark.parametrize(
    ("code", "message", "expected"),
    [
        (502, "Provider returned error", errors.UpstreamUnavailable),
        (403, "Output was flagged by moderation", errors.ContentPolicy),
        (402, "Insufficient credits", errors.KeyRejected),
        (429, "Rate limited upstream", errors.RateLimited),
    ],
)
def test_an_error_inside_an_http_200_is_classified_by_its_code(fake, adapter, code, message, expected):
    fake.mode, fake.error_code, fake.error_message = "http200_error", code, message

    error = failure_of(adapter, REQUEST, KEY)

    assert type(error) is expected and error.vendor_status == code


def test_a_403_on_chat_image_is_a_content_policy_refusal(fake, adapter):
    fake.keys = {KEY: "moderated"}

    error = failure_of(adapter, REQUEST, KEY)

    assert type(error) is errors.ContentPolicy
    assert "flagged by moderation" in error.message


def test_a_403_that_names_the_key_is_still_a_key_rejection(fake, adapter):
    fake.keys = {KEY: "forbidden_key"}

    assert type(failure_of(adapter, REQUEST, KEY)) is errors.KeyRejected


def test_a_429_is_a_cooldown_but_a_429_for_spent_quota_rejects_the_key(fake, adapter):
    fake.keys, fake.retry_after = {KEY: "rate_limited", "sk-spent-quota-0002": "quota"}, 3

    limited = failure_of(adapter, REQUEST, KEY)
    spent = failure_of(adapter, REQUEST, "sk-spent-quota-0002")

    assert type(limited) is errors.RateLimited and limited.retry_after == 3
    assert type(spent) is errors.KeyRejected


@pytest.mark.parametrize(
    ("behaviour", "expected"),
    [
        ("invalid", errors.KeyRejected),  # 401; the body echoes the key and a URL
        ("no_credits", errors.KeyRejected),  # OpenRouter 402
        ("xai_invalid", errors.KeyRejected),  # xAI: a bad key is a 400
        ("gemini_invalid", errors.KeyRejected),  # Gemini: a JSON array, 400 API_KEY_INVALID
        ("policy", errors.ContentPolicy),
        ("moderation_blocked", errors.ContentPolicy),
        ("bad_request", errors.BadRequest),
        ("timeout", errors.UpstreamUnavailable),
        ("provider_down", errors.UpstreamUnavailable),
        ("overloaded", errors.UpstreamUnavailable),
    ],
)
def test_each_vendor_failure_maps_to_its_error_class(fake, adapter, behaviour, expected):
    fake.keys = {KEY: behaviour}

    assert type(failure_of(adapter, REQUEST, KEY)) is expected


def _response(status: int, **kwargs) -> httpx.Response:
    request = httpx.Request("POST", "https://relay.example/v1/chat/completions", headers={"Authorization": "Bearer k"})
    return httpx.Response(status, request=request, **kwargs)


def test_a_bare_403_without_a_body_counts_as_moderation():
    adapter = ChatImageAdapter(VendorTarget(name="x", base_url="https://relay.example/v1"))

    assert type(adapter.classify_error(_response(403, text="Forbidden"))) is errors.ContentPolicy


def test_gemini_inline_data_passed_through_is_an_image():
    adapter = ChatImageAdapter(VendorTarget(name="x", base_url="https://relay.example/v1"))
    body = {
        "candidates": [
            {"content": {"parts": [{"text": "ok"}, {"inlineData": {"mimeType": "image/png", "data": "QQ=="}}]}}
        ]
    }

    [image] = adapter.parse_response(_response(200, json=body))

    assert (image.b64, image.content_type) == ("QQ==", "image/png")


def test_a_non_numeric_error_code_inside_a_200_is_a_generation_failure():
    adapter = ChatImageAdapter(VendorTarget(name="x", base_url="https://relay.example/v1"))

    with pytest.raises(errors.GenerationFailed):
        adapter.parse_response(_response(200, json={"error": {"code": "server_error", "message": "upstream broke"}}))


def test_the_exact_key_is_scrubbed_even_when_it_does_not_look_like_a_key(fake, adapter):
    fake.keys = {"plaintoken0042": "invalid"}  # the fake echoes the whole key in its 401 message

    error = failure_of(adapter, REQUEST, "plaintoken0042")

    assert type(error) is errors.KeyRejected and "Incorrect API key provided" in error.message
