import httpx
import pytest

from tests.fakes.openai_chat import OpenAIChatFake
from tests.vendors.adapters import call, failure_of
from vendors import errors
from vendors.adapters.base import ChatRequest, VendorTarget
from vendors.adapters.openai_chat import OpenAIChatAdapter

KEY = "sk-deepseek-test-0001"
REQUEST = ChatRequest(model="deepseek-reasoner", system="Rewrite as one image prompt.", user="雨夜里的红灯笼")


@pytest.fixture
def fake():
    with OpenAIChatFake() as server:
        server.reply, server.thinking = "A red lantern in the rain", "They want a night scene."
        yield server


@pytest.fixture
def adapter(fake):
    return OpenAIChatAdapter(VendorTarget(name="x", base_url=fake.url + "/v1"))


def test_it_sends_the_system_and_user_messages_with_limits_and_no_streaming(fake, adapter):
    call(adapter, ChatRequest(model="m", system="sys", user="idea", max_tokens=300, temperature=0.2), KEY)

    [sent] = fake.requests
    assert (sent.path, sent.headers["Authorization"]) == ("/v1/chat/completions", f"Bearer {KEY}")
    assert sent.json == {
        "model": "m",
        "messages": [{"role": "system", "content": "sys"}, {"role": "user", "content": "idea"}],
        "max_tokens": 300,
        "temperature": 0.2,
        "stream": False,
    }


def test_a_plain_answer_is_the_content_with_no_reasoning(fake, adapter):
    reply = call(adapter, REQUEST, KEY)

    assert (reply.content, reply.reasoning, reply.finish_reason) == ("A red lantern in the rain", None, "stop")


@pytest.mark.parametrize(
    ("mode", "content"),
    [
        ("think_tags", "<think>They want a night scene.</think>\n\nA red lantern in the rain"),
        ("closing_think_only", "They want a night scene.\n</think>\n\nA red lantern in the rain"),
    ],
)
def test_inline_thinking_is_left_in_the_content_for_the_optimizer_to_strip(fake, adapter, mode, content):
    fake.mode = mode

    assert call(adapter, REQUEST, KEY).content == content


@pytest.mark.parametrize("mode", ["reasoning_content", "reasoning_field"])
def test_separate_reasoning_is_returned_apart_from_the_content(fake, adapter, mode):
    fake.mode = mode

    reply = call(adapter, REQUEST, KEY)

    assert (reply.content, reply.reasoning) == ("A red lantern in the rain", "They want a night scene.")


def test_a_content_list_is_joined_from_its_text_parts(fake, adapter):
    fake.mode = "content_parts"

    assert call(adapter, REQUEST, KEY).content == "A red lantern in the rain"


def test_an_empty_answer_cut_by_length_comes_back_as_it_is(fake, adapter):
    fake.mode = "empty_length"

    reply = call(adapter, REQUEST, KEY)

    assert (reply.content, reply.finish_reason) == ("", "length")


def test_the_reply_can_depend_on_the_user_text(fake, adapter):
    fake.reply = lambda user: f"prompt for {user}"

    assert call(adapter, REQUEST, KEY).content == "prompt for 雨夜里的红灯笼"


def test_a_base_url_that_is_already_the_full_endpoint_is_used_as_is(fake):
    adapter = OpenAIChatAdapter(VendorTarget(name="x", base_url=fake.url + "/v1/chat/completions/"))

    assert call(adapter, REQUEST, KEY).content
    assert [r.path for r in fake.requests] == ["/v1/chat/completions"]


def test_a_429_is_a_cooldown_but_a_429_for_spent_quota_rejects_the_key(fake, adapter):
    fake.keys, fake.retry_after = {KEY: "rate_limited", "sk-spent-quota-0002": "quota"}, 4

    limited = failure_of(adapter, REQUEST, KEY)
    spent = failure_of(adapter, REQUEST, "sk-spent-quota-0002")

    assert type(limited) is errors.RateLimited and limited.retry_after == 4
    assert type(spent) is errors.KeyRejected


@pytest.mark.parametrize(
    ("behaviour", "expected"),
    [
        ("invalid", errors.KeyRejected),  # 401; the body echoes the key and a URL
        ("no_balance", errors.KeyRejected),  # DeepSeek 402
        ("server_error", errors.UpstreamUnavailable),
        ("overloaded", errors.UpstreamUnavailable),
        ("bad_request", errors.BadRequest),
        ("moderated", errors.ContentPolicy),  # OpenRouter's 403 names moderation
    ],
)
def test_each_vendor_failure_maps_to_its_error_class(fake, adapter, behaviour, expected):
    fake.keys = {KEY: behaviour}

    assert type(failure_of(adapter, REQUEST, KEY)) is expected


def test_an_error_inside_an_http_200_is_raised_not_returned_as_content(fake, adapter):
    fake.mode, fake.error_code = "http200_error", 503

    assert type(failure_of(adapter, REQUEST, KEY)) is errors.UpstreamUnavailable


def test_a_vendor_slower_than_the_budget_is_an_upstream_timeout(fake):
    adapter = OpenAIChatAdapter(VendorTarget(name="x", base_url=fake.url + "/v1", timeout=0.3))
    fake.latency = 1.0

    assert type(failure_of(adapter, REQUEST, KEY)) is errors.UpstreamTimeout


def test_a_403_without_moderation_words_is_a_key_problem_on_a_chat_vendor():
    adapter = OpenAIChatAdapter(VendorTarget(name="x", base_url="https://llm.example/v1"))
    request = httpx.Request("POST", "https://llm.example/v1/chat/completions")
    body = {"error": {"message": "Your organization must be verified to use this model.", "code": None}}

    assert type(adapter.classify_error(httpx.Response(403, json=body, request=request))) is errors.KeyRejected


@pytest.mark.parametrize("code", ["unsupported_country", "unsupported_country_region_territory"])
def test_a_region_refusal_is_the_requests_not_the_keys(code):
    adapter = OpenAIChatAdapter(VendorTarget(name="x", base_url="https://llm.example/v1"))
    request = httpx.Request("POST", "https://llm.example/v1/chat/completions")
    body = {"error": {"message": "Country, region, or territory not supported", "code": code}}

    assert type(adapter.classify_error(httpx.Response(403, json=body, request=request))) is errors.BadRequest


# --- usage: the tokens the LLM billed ---------------------------------------------------------


@pytest.mark.parametrize("mode", ["plain", "think_tags", "reasoning_content"])
def test_the_reply_carries_the_tokens_the_answers_usage_reports(fake, adapter, mode):
    fake.mode = mode

    reply = call(adapter, REQUEST, KEY)

    [usage] = fake.usages
    assert (reply.prompt_tokens, reply.completion_tokens) == (usage["prompt_tokens"], usage["completion_tokens"])
    assert reply.completion_tokens >= 6  # the thinking is billed as output too


def test_an_answer_without_usage_has_unknown_tokens(fake, adapter):
    fake.usage = "missing"

    reply = call(adapter, REQUEST, KEY)

    assert (reply.content, reply.prompt_tokens, reply.completion_tokens) == ("A red lantern in the rain", None, None)


@pytest.mark.parametrize(
    ("usage", "tokens"),
    [
        ({"prompt_tokens": 12, "completion_tokens": 7.0}, (12, 7)),  # a whole float is a count
        ({"prompt_tokens": "12", "completion_tokens": 7}, (None, 7)),
        ({"prompt_tokens": -1, "completion_tokens": True}, (None, None)),
        ({"prompt_tokens": 1.5, "completion_tokens": 10**12}, (None, None)),  # beyond what the ledger holds
        ({"prompt_tokens": None}, (None, None)),
    ],
)
def test_usage_that_is_not_a_whole_count_is_unknown_rather_than_a_guess(fake, adapter, usage, tokens):
    fake.usage = usage

    reply = call(adapter, REQUEST, KEY)

    assert (reply.prompt_tokens, reply.completion_tokens) == tokens
