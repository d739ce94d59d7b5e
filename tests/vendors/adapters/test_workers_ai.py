import base64
from datetime import UTC, datetime

import httpx
import pytest

from tests.fakes.server import jpeg_bytes
from tests.fakes.workers_ai import WorkersAIFake
from tests.vendors.adapters import call, failure_of
from vendors import errors
from vendors.adapters.base import ImageRequest, VendorTarget
from vendors.adapters.workers_ai import WorkersAIAdapter, seconds_until_reset

TOKEN = "cf-workers-ai-token-0001"
SDXL = "@cf/stabilityai/stable-diffusion-xl-base-1.0"
FLUX = "@cf/black-forest-labs/flux-1-schnell"
REQUEST = ImageRequest(prompt="a red paper lantern", model=SDXL, width=1024, height=768)
FLUX_REQUEST = ImageRequest(prompt="a red paper lantern", model=FLUX, width=1024, height=768)


@pytest.fixture
def fake():
    with WorkersAIFake() as server:
        yield server


@pytest.fixture
def key(fake):
    return f"{fake.account_id}:{TOKEN}"


@pytest.fixture
def adapter(fake):
    return WorkersAIAdapter(VendorTarget(name="x", base_url=fake.url + "/client/v4"))


def test_an_account_and_token_key_puts_the_account_in_the_path_and_only_the_token_in_the_header(fake, adapter, key):
    call(adapter, REQUEST, key)

    [sent] = fake.requests
    assert (sent.method, sent.path) == ("POST", f"/client/v4/accounts/{fake.account_id}/ai/run/{SDXL}")
    assert sent.headers["Authorization"] == f"Bearer {TOKEN}"
    assert sent.json == {"prompt": "a red paper lantern", "width": 1024, "height": 768}


def test_sdxl_answers_raw_png_bytes(fake, adapter, key):
    [image] = call(adapter, REQUEST, key)

    assert (image.data, image.content_type) == (fake.image, "image/png")
    assert image.url is None and image.b64 is None


def test_flux_schnell_gets_no_size_and_answers_a_base64_jpeg_in_the_envelope(fake, adapter, key):
    [image] = call(adapter, FLUX_REQUEST, key)

    assert fake.requests[0].json == {"prompt": "a red paper lantern"}
    assert base64.b64decode(image.b64) == fake.envelope_image
    assert (image.content_type, image.data) == ("image/jpeg", None)


def test_an_explicit_size_format_overrides_the_flux_rule_and_none_leaves_the_size_out(fake, adapter, key):
    call(adapter, ImageRequest(prompt="a lantern", model=FLUX, width=512, height=512, size_format="width_height"), key)
    call(adapter, ImageRequest(prompt="a lantern", model=SDXL, size_format="none"), key)

    flux, sdxl = (request.json for request in fake.requests)
    assert (flux["width"], flux["height"]) == (512, 512)
    assert sdxl == {"prompt": "a lantern"}


@pytest.mark.parametrize(("answer", "model"), [("envelope", SDXL), ("raw", FLUX)])
def test_the_content_type_decides_how_the_answer_is_read_not_the_model(fake, adapter, key, answer, model):
    fake.answer, fake.image, fake.envelope_image = answer, jpeg_bytes(), jpeg_bytes()

    [image] = call(adapter, ImageRequest(prompt="a lantern", model=model), key)

    got = image.data if answer == "raw" else base64.b64decode(image.b64)
    assert got == fake.image


@pytest.mark.parametrize("suffix", ["", "/", "/ai/run", f"/ai/run/{SDXL}"])
def test_a_plain_token_works_when_the_base_url_names_the_account(fake, suffix):
    adapter = WorkersAIAdapter(
        VendorTarget(name="x", base_url=f"{fake.url}/client/v4/accounts/{fake.account_id}{suffix}")
    )

    assert call(adapter, REQUEST, TOKEN)

    assert fake.requests[0].path == f"/client/v4/accounts/{fake.account_id}/ai/run/{SDXL}"
    assert fake.requests[0].headers["Authorization"] == f"Bearer {TOKEN}"


def test_a_plain_token_without_an_account_anywhere_is_a_key_problem_that_says_how_to_store_it(fake, adapter):
    error = failure_of(adapter, REQUEST, TOKEN)

    assert type(error) is errors.KeyRejected and "ACCOUNT_ID:API_TOKEN" in error.message
    assert fake.requests == []


def test_the_keys_account_wins_over_one_in_the_base_url(fake, key):
    adapter = WorkersAIAdapter(VendorTarget(name="x", base_url=fake.url + "/client/v4/accounts/someoneelse/ai/run"))

    assert call(adapter, REQUEST, key)
    assert fake.requests[0].path.startswith(f"/client/v4/accounts/{fake.account_id}/ai/run/")


def test_a_bare_host_as_base_gets_the_v4_api_path():
    adapter = WorkersAIAdapter(VendorTarget(name="x", base_url="https://api.cloudflare.com"))

    built = adapter.build_request(REQUEST, "acc123:tok")

    assert str(built.url) == f"https://api.cloudflare.com/client/v4/accounts/acc123/ai/run/{SDXL}"


def test_429_3036_is_the_daily_allocation_spent_so_the_key_rests_until_the_utc_reset(fake, adapter, key):
    fake.keys = {TOKEN: "daily_quota"}

    error = failure_of(adapter, REQUEST, key)

    assert type(error) is errors.RateLimited and not error.disables_key
    assert abs(error.retry_after - seconds_until_reset()) < 5
    assert "(code 3036)" in error.message and "dash.example" not in error.message


def test_429_3040_is_cloudflare_out_of_capacity_not_the_keys_fault(fake, adapter, key):
    fake.keys = {TOKEN: "capacity"}

    error = failure_of(adapter, REQUEST, key)

    assert type(error) is errors.UpstreamUnavailable and not error.cools_key
    assert error.vendor_status == 429


@pytest.mark.parametrize(
    ("now", "expected"),
    [
        (datetime(2026, 3, 1, 23, 0, 0, tzinfo=UTC), 3600 + 60),
        (datetime(2026, 3, 1, 0, 0, 0, tzinfo=UTC), 86400 + 60),
        (datetime(2026, 12, 31, 12, 30, 0, tzinfo=UTC), 41400 + 60),
    ],
)
def test_the_daily_reset_is_the_next_midnight_utc_plus_a_minute(now, expected):
    assert seconds_until_reset(now) == expected


@pytest.mark.parametrize(
    ("behaviour", "expected"),
    [
        ("invalid", errors.KeyRejected),  # 401 code 10000
        ("forbidden", errors.KeyRejected),  # 403 code 10000
        ("terms", errors.KeyRejected),  # 403 code 5016
        ("bad_input", errors.BadRequest),  # 400 code 5004
        ("too_large", errors.BadRequest),  # 413 code 3006
        ("timeout", errors.UpstreamUnavailable),  # 408 code 3007
        ("server_error", errors.UpstreamUnavailable),  # 500
        ("http200_failure", errors.UpstreamUnavailable),  # 200, success false, code 3040
        ("empty", errors.GenerationFailed),  # 200 with an empty PNG body
    ],
)
def test_each_vendor_failure_maps_to_its_error_class(fake, adapter, key, behaviour, expected):
    fake.keys = {TOKEN: behaviour}

    assert type(failure_of(adapter, REQUEST, key)) is expected


def test_an_envelope_without_an_image_is_a_generation_failure(fake, adapter, key):
    fake.keys = {TOKEN: "empty"}

    assert type(failure_of(adapter, FLUX_REQUEST, key)) is errors.GenerationFailed


def test_a_wrong_account_id_is_a_config_error_that_says_what_to_check_without_showing_it(fake, adapter):
    key = f"ffffeeeeddddccccbbbbaaaa99998888:{TOKEN}"

    error = failure_of(adapter, REQUEST, key)

    assert type(error) is errors.BadRequest and error.vendor_status == 404
    assert "check the model name and the account id" in error.message
    assert "ffffeeeeddddccccbbbbaaaa99998888" not in error.message


@pytest.mark.parametrize(("model", "status"), [("@cf/acme/no-such-model", 400), ("stable-diffusion-xl", 404)])
def test_an_unknown_or_malformed_model_id_is_a_bad_request(fake, adapter, key, model, status):
    error = failure_of(adapter, ImageRequest(prompt="a lantern", model=model), key)

    assert type(error) is errors.BadRequest and error.vendor_status == status


def test_a_size_out_of_range_is_refused_as_bad_input(fake, adapter, key):
    error = failure_of(adapter, ImageRequest(prompt="a lantern", model=SDXL, width=4096, height=4096), key)

    assert type(error) is errors.BadRequest and "(code 5004)" in error.message


def _response(status: int, **kwargs) -> httpx.Response:
    request = httpx.Request("POST", f"https://api.example/client/v4/accounts/acc/ai/run/{SDXL}")
    return httpx.Response(status, request=request, **kwargs)


def test_another_429_is_a_cooldown_honouring_retry_after_and_moderation_text_is_a_refusal():
    adapter = WorkersAIAdapter(VendorTarget(name="x", base_url="https://api.example/client/v4"))
    envelope = {"result": None, "success": False, "errors": [{"code": 3039, "message": "Too many requests"}]}

    limited = adapter.classify_error(_response(429, json=envelope, headers={"Retry-After": "12"}))
    flagged = adapter.classify_error(_response(400, json={"errors": [{"code": 5004, "message": "NSFW content"}]}))

    assert type(limited) is errors.RateLimited and limited.retry_after == 12
    assert type(flagged) is errors.ContentPolicy
