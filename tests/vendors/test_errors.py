"""The one decision procedure for failed vendor answers (``vendors.errors.classify``), each kind's declared
differences (its ``error_table`` and ``error_facts``), and where a rate limit's wait comes from."""

import dataclasses
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime

import httpx
import pytest

from vendors import errors
from vendors.adapters import adapters
from vendors.adapters.base import VendorTarget
from vendors.adapters.bfl import BFLAdapter
from vendors.adapters.chat_image import ChatImageAdapter
from vendors.adapters.fal import FalAdapter
from vendors.adapters.openai_chat import OpenAIChatAdapter
from vendors.adapters.openai_images import OpenAIImagesAdapter
from vendors.adapters.reading import retry_after_of
from vendors.adapters.replicate import ReplicateAdapter
from vendors.adapters.siliconflow import SiliconFlowAdapter
from vendors.adapters.stability import StabilityAdapter
from vendors.adapters.workers_ai import WorkersAIAdapter, seconds_until_reset
from vendors.errors import ErrorFacts, ErrorTable, classify

KR, RL, UA = errors.KeyRejected, errors.RateLimited, errors.UpstreamUnavailable
CP, BR, GF = errors.ContentPolicy, errors.BadRequest, errors.GenerationFailed
ALL_KINDS = list(adapters().values())
COMMON = ErrorTable()  # a kind that declares no difference


def decide(status: int, message: str = "something went wrong", codes=(), table=COMMON, **facts):
    return classify(ErrorFacts(status, message, frozenset(codes), **facts), table)


def answer(adapter_class, status: int, body=None, *, text: str | None = None, headers=None) -> errors.UpstreamError:
    """``classify_error`` of one adapter of the class for an answer with this status, body and headers."""
    adapter = adapter_class(VendorTarget(name="x", base_url="https://api.example.com/v1"))
    request = httpx.Request("POST", "https://api.example.com/v1/x", headers={"Authorization": "Bearer k-test-0001"})
    content = {"text": text} if text is not None else {"json": body} if body is not None else {}
    return adapter.classify_error(httpx.Response(status, headers=headers, request=request, **content))


# --- the order ---------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("status", "message", "codes", "expected"),
    [
        (429, "slow down", (), RL),
        (429, "Insufficient balance", (), KR),  # a spent balance is no cooldown
        (429, "You exceeded your current quota", ("insufficient_quota",), KR),
        (429, "flagged by moderation", (), RL),  # 429 before moderation
        (408, "Request timed out", (), UA),
        (503, "Incorrect API key provided", (), UA),  # 5xx before key words
        (401, "flagged by moderation", (), KR),  # 401/402 before moderation
        (402, "Insufficient credits", (), KR),
        (400, "Request blocked.", ("moderation_blocked",), CP),
        (400, "flagged: incorrect API key", (), CP),  # moderation before key words
        (400, "Incorrect API key provided: xa***ab", (), KR),  # xAI's bad key is a 400
        (400, "bad", ("api_key_invalid",), KR),  # Gemini's
        (400, "Billing hard limit has been reached", ("billing_hard_limit_reached",), KR),
        (403, "Forbidden", (), KR),  # the default meaning of an unexplained 403
        (403, "Output was flagged by moderation", (), CP),
        (404, "404 page not found", (), BR),
        (422, "width: Input should be a multiple of 32", (), BR),
        (413, "Request is too large", (), BR),
        (200, "upstream returned nothing", (), GF),  # an error inside a 200
        (200, "Your request was rejected by the safety system.", (), CP),
        (200, "Invalid API key", (), KR),
    ],
)
def test_one_order_decides_for_every_kind(status, message, codes, expected):
    assert type(decide(status, message, codes)) is expected


def test_the_error_carries_the_vendor_status_and_message_and_only_a_rate_limit_the_wait():
    limited, rejected = decide(429, "slow down", retry_after=12), decide(401, "Invalid token", retry_after=12)

    assert (limited.message, limited.vendor_status, limited.retry_after) == ("slow down", 429, 12)
    assert (rejected.message, rejected.vendor_status, rejected.retry_after) == ("Invalid token", 401, None)


def test_a_declared_code_naming_a_class_wins_over_the_status():
    table = ErrorTable(codes={"content_moderation": CP})

    error = decide(429, "slow down", ["content_moderation"], table)

    assert type(error) is CP and error.vendor_status == 429


def test_a_declared_code_naming_a_status_is_decided_as_that_status_but_reported_with_the_real_one():
    table = ErrorTable(codes={"3036": 429, "10000": 401})

    limited = decide(200, "daily allocation used", ["3036"], table, retry_after=30)
    rejected = decide(400, "flagged by moderation", ["10000"], table)  # as a 401: before moderation

    assert (type(limited), limited.vendor_status, limited.retry_after) == (RL, 200, 30)
    assert (type(rejected), rejected.vendor_status) == (KR, 400)


def test_the_first_declared_code_found_wins_and_codes_are_patterns():
    table = ErrorTable(codes={"content_policy_violation": CP, "runner_*": 503})

    assert type(decide(422, codes=["runner_disconnected", "content_policy_violation"], table=table)) is CP
    assert type(decide(400, codes=["runner_scheduling_failure"], table=table)) is UA
    assert type(decide(400, codes=["runners"], table=table)) is BR


def test_an_unexplained_403_is_what_the_table_says_and_a_foreign_one_may_differ():
    table = ErrorTable(forbidden=CP, foreign_forbidden=UA)

    assert type(decide(403, "Forbidden", table=table)) is CP
    assert type(decide(403, "<html>Access denied</html>", table=table, foreign=True)) is UA
    assert type(decide(403, "Forbidden", table=ErrorTable(forbidden=CP), foreign=True)) is UA  # the default
    assert type(decide(403, "Invalid API key", table=table, foreign=True)) is KR  # explained: not "unexplained"


def test_the_not_found_hint_leads_a_404_bad_request_only():
    table = ErrorTable(not_found_hint="model or version not found")

    assert decide(404, "Not found", table=table).message == "model or version not found: Not found"
    assert decide(400, "Not found", table=table).message == "Not found"
    assert decide(404, "NSFW content", table=table).message == "NSFW content"  # ContentPolicy: no hint


@pytest.mark.parametrize(("asked", "expected"), [(None, 60), (7, 60), (90, 90)])
def test_the_minimum_rate_limit_is_a_floor_under_the_vendors_wait(asked, expected):
    assert decide(429, table=ErrorTable(min_rate_limit=60), retry_after=asked).retry_after == expected


def test_without_a_minimum_an_unknown_wait_stays_unknown():
    assert decide(429).retry_after is None


# --- each kind's declared differences ------------------------------------------------------------------


@pytest.mark.parametrize("adapter_class", ALL_KINDS, ids=lambda cls: cls.kind)
def test_every_kind_declares_its_differences_as_a_table_of_lower_case_codes(adapter_class):
    table = adapter_class.error_table

    assert isinstance(table, ErrorTable)
    assert all(pattern == pattern.lower() for pattern in table.codes)
    for meaning in table.codes.values():
        assert (isinstance(meaning, int) and 400 <= meaning <= 599) or issubclass(meaning, errors.UpstreamError)


def test_kinds_without_differences_use_the_common_order():
    assert BFLAdapter.error_table == COMMON


@pytest.mark.parametrize("adapter_class", [OpenAIImagesAdapter, OpenAIChatAdapter])
def test_the_openai_family_differs_only_in_its_region_refusal(adapter_class):
    table = adapter_class.error_table

    assert dataclasses.replace(table, codes={}) == COMMON
    assert set(table.codes.values()) == {errors.BadRequest}
    assert type(decide(403, "Country, region, or territory not supported", table=table)) is KR
    assert type(decide(403, codes=["unsupported_country_region_territory"], table=table)) is BR


WORKERS_HINT = "Workers AI found no such model or account (check the model name and the account id)"


def envelope(code: int, message: str = "x") -> dict:
    return {"result": None, "success": False, "errors": [{"code": code, "message": message}], "messages": []}


@pytest.mark.parametrize(
    ("adapter_class", "status", "body", "expected"),
    [
        (SiliconFlowAdapter, 403, {"code": 30003, "message": "Model disabled."}, KR),
        (SiliconFlowAdapter, 400, {"code": 30003, "message": "Model disabled."}, KR),  # the code means a 401
        (SiliconFlowAdapter, 400, {"code": 20012, "message": "Model does not exist."}, BR),
        (ChatImageAdapter, 403, {"error": {"code": 403, "message": "Forbidden"}}, CP),  # OpenRouter's moderation
        (ChatImageAdapter, 403, {"error": {"code": "invalid_api_key", "message": "no"}}, KR),
        (StabilityAdapter, 403, {"name": "content_moderation", "errors": ["denied"]}, CP),
        (StabilityAdapter, 400, {"name": "content_moderation", "errors": ["denied"]}, CP),
        (StabilityAdapter, 403, {"name": "forbidden", "errors": ["Access denied"]}, CP),  # Stability's own 403
        (WorkersAIAdapter, 429, envelope(3040), UA),  # out of capacity, not the key's fault
        (WorkersAIAdapter, 200, envelope(3040), UA),  # success: false inside a 200
        (WorkersAIAdapter, 403, envelope(10000), KR),
        (WorkersAIAdapter, 400, envelope(5016), KR),  # model terms not accepted
        (WorkersAIAdapter, 200, envelope(3007), UA),  # a timeout
        (WorkersAIAdapter, 400, envelope(5004), BR),
        (ReplicateAdapter, 403, {"detail": "You do not have permission to run this model.", "status": 403}, BR),
        (ReplicateAdapter, 403, {"detail": "Insufficient credit to run this model.", "status": 403}, KR),
        (FalAdapter, 422, {"detail": [{"loc": ["body"], "msg": "flagged", "type": "content_policy_violation"}]}, CP),
        (FalAdapter, 429, {"detail": "x", "error_type": "runner_scheduling_failure"}, UA),
        (FalAdapter, 400, {"detail": "x", "error_type": "startup_timeout"}, UA),
        (FalAdapter, 403, {"detail": "User is locked. Reason: Exhausted balance."}, KR),
        (BFLAdapter, 403, {"detail": "Not authenticated - Invalid Authentication"}, KR),
    ],
)
def test_each_kinds_declared_differences(adapter_class, status, body, expected):
    assert type(answer(adapter_class, status, body)) is expected


def test_stability_takes_a_403_page_that_is_not_its_json_for_a_proxy():
    assert type(answer(StabilityAdapter, 403, text="<html>Access denied</html>")) is UA
    assert type(answer(StabilityAdapter, 403, text="Invalid API key")) is KR


def test_workers_ai_names_its_codes_and_hints_at_the_model_or_account_on_a_404():
    error = answer(WorkersAIAdapter, 404, envelope(7003, "Could not route"))
    coded = answer(WorkersAIAdapter, 401, envelope(7003, "Could not route"))  # the code wins over the status

    assert (type(error), error.message) == (BR, f"{WORKERS_HINT}: Could not route (code 7003)")
    assert type(coded) is BR and coded.message.startswith(WORKERS_HINT)


def test_replicate_hints_that_a_404_is_a_missing_model_or_version():
    error = answer(ReplicateAdapter, 404, {"detail": "The requested resource could not be found.", "status": 404})

    assert error.message == "model or version not found: The requested resource could not be found."


def test_fal_reads_the_error_type_header_as_a_code():
    assert type(answer(FalAdapter, 400, text="runner went away", headers={"X-Fal-Error-Type": "runner_x"})) is UA


# --- corners where the kinds disagreed before one order decided for all --------------------------------


CORNERS = [  # (status, vendor message, the one answer now): kinds used to disagree on these
    pytest.param(401, "Unauthorized: account flagged by moderation", KR, id="401-naming-moderation"),
    pytest.param(403, "Your prompt was flagged by moderation", CP, id="403-naming-moderation"),
    pytest.param(429, "Insufficient balance, please top up", KR, id="429-spent-balance"),
    pytest.param(400, "Incorrect API key provided: xa***ab", KR, id="400-naming-a-bad-key"),
]


@pytest.mark.parametrize("adapter_class", ALL_KINDS, ids=lambda cls: cls.kind)
@pytest.mark.parametrize(("status", "message", "expected"), CORNERS)
def test_corners_the_kinds_used_to_disagree_on_have_one_answer(adapter_class, status, message, expected):
    # Before: a 401 naming moderation was ContentPolicy at SiliconFlow, Stability, Replicate and BFL (the key
    # was never disabled); a 403 naming moderation disabled the key at Workers AI and fal; a 429 about a
    # spent balance only cooled the key outside the OpenAI-style kinds; a 400 naming a bad key was the
    # client's BadRequest at Stability, Workers AI, BFL and fal.
    assert type(answer(adapter_class, status, {"error": {"message": message}})) is expected


# --- how long a rate limit lasts ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("headers", "expected"),
    [
        ({"retry-after": "3", "x-ratelimit-reset-requests": "1m"}, 3),
        ({"retry-after-ms": "1500"}, 1.5),
        (
            {
                "x-ratelimit-remaining-tokens": "0",
                "x-ratelimit-reset-tokens": "6m0s",
                "x-ratelimit-reset-requests": "2s",
            },
            360,
        ),
        ({"x-ratelimit-reset-requests": "20ms", "x-ratelimit-reset-tokens": "1.5s"}, 1.5),
        ({"x-ratelimit-reset-requests": "soon"}, None),
        ({"retry-after": "Wed, 21 Oct 2015 07:28:00 GMT"}, 0),  # a date already past: now
        ({"retry-after": "soon"}, None),
        ({"retry-after": "-5", "retry-after-ms": "1500"}, 1.5),  # a negative wait is no wait: the next header
        ({"retry-after": "nan"}, None),
        ({"retry-after": "inf"}, float("inf")),  # read as asked; the key loop bounds every rest
        ({"retry-after-ms": "Wed, 21 Oct 2015 07:28:00 GMT"}, None),
        ({}, None),
    ],
)
def test_the_wait_headers_are_read_in_order(headers, expected):
    assert retry_after_of(httpx.Headers(headers)) == expected


def test_a_retry_after_given_as_an_http_date_is_the_time_until_then():
    then = format_datetime(datetime.now(UTC) + timedelta(seconds=90), usegmt=True)

    assert retry_after_of(httpx.Headers({"Retry-After": then})) == pytest.approx(90, abs=2)


@pytest.mark.parametrize("adapter_class", ALL_KINDS, ids=lambda cls: cls.kind)
def test_every_kind_honours_the_wait_headers(adapter_class):
    assert answer(adapter_class, 429, {"error": "slow down"}, headers={"retry-after-ms": "2500"}).retry_after >= 2.5


def test_replicates_expected_available_in_beats_retry_after():
    body = {"detail": "Request was throttled. Expected available in 9 seconds.", "status": 429}

    assert answer(ReplicateAdapter, 429, body, headers={"Retry-After": "2"}).retry_after == 9


def test_workers_ai_waits_for_the_daily_reset_when_the_free_allocation_is_spent():
    error = answer(WorkersAIAdapter, 429, envelope(3036, "daily free allocation used"), headers={"Retry-After": "5"})

    assert type(error) is RL and abs(error.retry_after - seconds_until_reset()) < 5


def test_stability_cools_a_key_for_at_least_its_60_second_lockout():
    assert answer(StabilityAdapter, 429, {"name": "rate_limit_exceeded", "errors": ["slow"]}).retry_after == 60


# --- the client's text and the operator's -------------------------------------------------------------

NGINX_PAGE = "<html><head><title>502 Bad Gateway</title></head><body><h1>502 Bad Gateway</h1>nginx</body></html>"
INTERNAL = "upstream connect error to 10.0.3.7:8080 (backend-7.svc.cluster.local) via https://lb.vendor.com/x?sig=1"


@pytest.mark.parametrize("adapter_class", ALL_KINDS, ids=lambda cls: cls.kind)
def test_every_kind_gives_the_client_a_proxys_page_as_its_headline(adapter_class):
    error = answer(adapter_class, 502, text=NGINX_PAGE)

    assert (type(error), error.message, error.detail) == (UA, "502 Bad Gateway", "502 Bad Gateway")


@pytest.mark.parametrize("adapter_class", ALL_KINDS, ids=lambda cls: cls.kind)
def test_every_kind_keeps_addresses_and_host_names_for_the_operator_only(adapter_class):
    error = answer(adapter_class, 503, {"error": {"message": INTERNAL}})

    assert "upstream connect error to [address] ([host]) via [url]" in error.message
    assert "10.0.3.7:8080 (backend-7.svc.cluster.local) via [url]" in error.detail
    assert "sig=1" not in error.detail and "k-test-0001" not in error.detail


def test_the_clients_text_is_short_and_the_operators_longer():
    error = decide(503, "the GPU ran out of memory; " * 100)

    assert len(error.message) <= 200 and error.message.endswith("…")
    assert 900 < len(error.detail) <= 1000 and error.detail.startswith(error.message[:-1])


def test_an_error_in_the_gateways_own_words_reads_the_same_for_both():
    error = errors.UpstreamTimeout("the vendor did not answer within 120 s")

    assert error.message == error.detail == "the vendor did not answer within 120 s"


@pytest.mark.parametrize("adapter_class", ALL_KINDS, ids=lambda cls: cls.kind)
def test_a_firewalls_403_page_disables_no_key_and_blames_no_prompt_at_any_kind(adapter_class):
    page = "<!DOCTYPE html><html><head><title>Attention Required!</title></head><body>Sorry, you have been blocked"

    error = answer(adapter_class, 403, text=page, headers={"Content-Type": "text/html; charset=UTF-8"})

    assert type(error) is UA
