"""The key loop on its own: rotation, what each upstream error does to the key and to the request, the rows.

No HTTP: ``call_with_keys`` gets a route built here and an attempt (``Upstream``) that answers per key.
"""

import asyncio
import contextlib
import math
import time

import pytest
from django.core.cache import cache

from core.state import reset_process_state
from tests.vendors.keys_helpers import Upstream, failing, route_of, vendor_with_keys
from vendors import errors
from vendors.keys import cooldown_key
from vendors.models import VendorKey
from vendors.selectors import vendor_route

pytestmark = pytest.mark.django_db(transaction=True)


def row(label: str) -> VendorKey:
    return VendorKey.objects.get(label=label)


def test_successive_calls_start_at_the_next_key_and_wrap_around():
    _, route = vendor_with_keys("a", "b", "c")
    upstream = Upstream()

    results = [upstream.call(route) for _ in range(4)]

    starts = ["abc".index(result.key_label) for result in results]
    assert sorted(starts[:3]) == [0, 1, 2]
    assert all(following == (start + 1) % 3 for start, following in zip(starts, starts[1:], strict=False))


def test_a_call_that_keeps_failing_tries_every_key_once_in_turn_order():
    _, route = vendor_with_keys("a", "b", "c")
    no_image = failing(errors.GenerationFailed)
    upstream = Upstream(a=no_image, b=no_image, c=no_image)

    for _ in range(2):
        upstream.failure(route)

    first, second = ("".join(tried) for tried in upstream.calls)
    assert first in ("abc", "bca", "cab")
    assert second == first[1:] + first[0]


def test_the_turn_is_kept_in_the_cache_so_another_process_continues_it():
    _, route = vendor_with_keys("a", "b", "c")
    upstream = Upstream()

    first = upstream.call(route).key_label
    reset_process_state()  # what a second worker starts with
    second = upstream.call(route).key_label

    assert second == "abc"[("abc".index(first) + 1) % 3]


def test_a_rejected_key_is_auto_disabled_rests_and_the_next_key_serves():
    _, route = vendor_with_keys("a", "b")
    upstream = Upstream(a=failing(errors.KeyRejected, "Invalid token"))

    results = [upstream.call(route) for _ in range(3)]

    assert [result.key_label for result in results] == ["b", "b", "b"]
    assert upstream.tried.count("a") == 1  # the route still lists it: the cooldown keeps it out
    refused = row("a")
    assert (refused.status, refused.failure_count) == (VendorKey.Status.AUTO_DISABLED, 1)
    assert refused.last_error.startswith("upstream_key_rejected: Invalid token")
    assert refused.last_failed_at is not None
    assert row("b").status == VendorKey.Status.ACTIVE


def test_a_rejected_key_leaves_the_routing_table_at_once():
    vendor, route = vendor_with_keys("a", "b")
    assert len(asyncio.run(vendor_route(vendor.id)).keys) == 2
    upstream = Upstream(a=failing(errors.KeyRejected))

    for _ in range(2):
        upstream.call(route)

    assert [key.label for key in asyncio.run(vendor_route(vendor.id)).keys] == ["b"]


def test_with_every_key_refused_no_key_is_available_and_no_return_is_promised():
    _, route = vendor_with_keys("a", "b")
    upstream = Upstream(a=failing(errors.KeyRejected), b=failing(errors.KeyRejected))
    assert isinstance(upstream.failure(route), errors.AllKeysFailed)

    exc = upstream.failure(route)

    assert isinstance(exc, errors.NoAvailableKey)
    assert (exc.status, exc.retry_after) == (503, None)
    assert len(upstream.tried) == 2


def test_a_rate_limited_key_rests_for_its_retry_after():
    _, route = vendor_with_keys("a")
    upstream = Upstream(a=failing(errors.RateLimited, retry_after=42))
    assert isinstance(upstream.failure(route).last, errors.RateLimited)

    exc = upstream.failure(route)

    assert isinstance(exc, errors.NoAvailableKey)
    assert exc.retry_after == pytest.approx(42, abs=2)
    assert f"back in {math.ceil(exc.retry_after)} s" in exc.message
    assert upstream.tried == ["a"]
    limited = row("a")
    assert (limited.status, limited.failure_count) == (VendorKey.Status.COOLING, 1)
    assert limited.last_error.startswith("upstream_rate_limited: ")


def test_a_rate_limited_key_without_retry_after_rests_for_the_default_cooldown(settings):
    settings.KEY_RATE_LIMIT_COOLDOWN = 77
    _, route = vendor_with_keys("a")
    upstream = Upstream(a=failing(errors.RateLimited))
    upstream.failure(route)

    assert upstream.failure(route).retry_after == pytest.approx(77, abs=2)


@pytest.mark.parametrize(("asked", "ceiling"), [(1, 3600), (999_999_999, 1)], ids=["its-retry-after", "the-ceiling"])
def test_a_rate_limited_key_is_back_once_its_rest_is_over(settings, asked, ceiling):
    settings.KEY_MAX_COOLDOWN = ceiling
    _, route = vendor_with_keys("a")
    upstream = Upstream(a=failing(errors.RateLimited, retry_after=asked))
    upstream.failure(route)
    upstream.answers = {}

    time.sleep(1.2)

    assert upstream.call(route).key_label == "a"


def test_with_every_key_resting_retry_after_is_when_the_first_comes_back():
    _, route = vendor_with_keys("a", "b")
    upstream = Upstream(a=failing(errors.RateLimited, retry_after=40), b=failing(errors.RateLimited, retry_after=90))
    upstream.failure(route)

    exc = upstream.failure(route)

    assert isinstance(exc, errors.NoAvailableKey)
    assert exc.retry_after == pytest.approx(40, abs=2)


@pytest.mark.parametrize(
    ("asked", "rest"),
    [
        (999_999_999, 600),  # the 31 years a vendor once asked for
        (float("inf"), 600),
        (1e308, 600),
        (0, 1),  # a date already past: the shortest rest
        (float("nan"), 1),
    ],
)
def test_whatever_a_vendor_asks_a_key_rests_between_a_second_and_the_ceiling(settings, asked, rest):
    settings.KEY_MAX_COOLDOWN = 600
    _, route = vendor_with_keys("a")
    upstream = Upstream(a=failing(errors.RateLimited, retry_after=asked))
    upstream.failure(route)

    exc = upstream.failure(route)

    assert isinstance(exc, errors.NoAvailableKey)
    assert exc.retry_after == pytest.approx(rest, abs=1)


def test_the_default_cooldowns_are_bounded_by_the_ceiling_too(settings):
    settings.KEY_MAX_COOLDOWN, settings.KEY_RATE_LIMIT_COOLDOWN = 90, 7200
    _, route = vendor_with_keys("a")
    upstream = Upstream(a=failing(errors.RateLimited))
    upstream.failure(route)

    assert upstream.failure(route).retry_after == pytest.approx(90, abs=2)


def test_a_rest_set_past_the_ceiling_before_it_existed_is_over(settings):
    settings.KEY_MAX_COOLDOWN = 600
    _, route = vendor_with_keys("a")
    [key] = route.keys
    cache.set(cooldown_key(key.id), time.time() + 999_999_999, timeout=None)  # what an older gateway left

    assert Upstream().call(route).key_label == "a"


@pytest.fixture
def three_strikes(settings):
    settings.KEY_FAILURES_BEFORE_COOLDOWN = 3
    settings.KEY_FAILURE_COOLDOWN = 25


@pytest.mark.usefixtures("three_strikes")
def test_an_unavailable_vendor_cools_a_key_only_after_failures_in_a_row():
    _, route = vendor_with_keys("a")
    upstream = Upstream(a=failing(errors.UpstreamUnavailable, "Model service overloaded"))

    ends = [type(upstream.failure(route)) for _ in range(4)]

    assert ends == [errors.AllKeysFailed] * 3 + [errors.NoAvailableKey]
    assert upstream.tried == ["a"] * 3
    assert upstream.failure(route).retry_after == pytest.approx(25, abs=2)
    assert row("a").failure_count == 3


@pytest.mark.usefixtures("three_strikes")
def test_a_success_ends_a_streak_of_failures():
    _, route = vendor_with_keys("a")
    upstream = Upstream()
    unavailable = {"a": failing(errors.UpstreamUnavailable)}

    for answers in [unavailable, unavailable, {}, unavailable, unavailable]:
        upstream.answers = answers
        with contextlib.suppress(errors.AllKeysFailed):
            upstream.call(route)
    upstream.answers = {}

    assert upstream.call(route).key_label == "a"
    assert len(upstream.tried) == 6


def test_a_key_that_made_no_image_hands_the_request_to_the_next_key_and_stays_in_turn():
    _, route = vendor_with_keys("a", "b")
    upstream = Upstream(a=failing(errors.GenerationFailed, "the answer held no image"))

    results = [upstream.call(route) for _ in range(4)]

    assert {result.key_label for result in results} == {"b"}
    assert upstream.tried.count("a") == 2  # tried again at its next turn: no cooldown
    assert row("a").status == VendorKey.Status.SUSPECT


@pytest.mark.usefixtures("three_strikes")
def test_a_key_that_keeps_answering_without_an_image_rests_after_a_streak():
    _, route = vendor_with_keys("a")
    upstream = Upstream(a=failing(errors.GenerationFailed, "the answer held no image"))

    ends = [type(upstream.failure(route)) for _ in range(4)]

    assert ends == [errors.AllKeysFailed] * 3 + [errors.NoAvailableKey]


@pytest.mark.parametrize(("error", "status"), [(errors.BadRequest, 400), (errors.ContentPolicy, 400)])
def test_a_request_level_failure_stops_at_once_and_says_nothing_about_the_key(error, status):
    _, route = vendor_with_keys("a", "b")
    upstream = Upstream(a=failing(error), b=failing(error))

    exc = upstream.failure(route)

    assert (type(exc), exc.status) == (error, status)
    assert len(upstream.tried) == 1 and exc.key_label == upstream.tried[0]
    assert all((key.failure_count, key.last_error) == (0, "") for key in VendorKey.objects.all())
    upstream.failure(route)
    assert len(upstream.tried) == 2  # nothing rests: the next request tries a key again


def test_a_timeout_stops_at_once_without_another_key_and_counts_against_the_key_that_hung():
    _, route = vendor_with_keys("a", "b")
    upstream = Upstream(a=failing(errors.UpstreamTimeout), b=failing(errors.UpstreamTimeout))

    exc = upstream.failure(route)

    assert (type(exc), exc.status) == (errors.UpstreamTimeout, 504)
    assert len(upstream.tried) == 1  # the vendor may be generating (and billing): never sent again
    hung = row(upstream.tried[0])
    assert (hung.status, hung.failure_count) == (VendorKey.Status.SUSPECT, 1)
    assert hung.last_error.startswith("upstream_timeout: ")


@pytest.mark.usefixtures("three_strikes")
def test_a_key_that_keeps_hanging_rests_after_a_streak_so_requests_stop_starting_on_it():
    _, route = vendor_with_keys("a", "b")
    upstream = Upstream(a=failing(errors.UpstreamTimeout))

    outcomes = []
    for _ in range(10):
        try:
            outcomes.append(upstream.call(route).key_label)
        except errors.UpstreamTimeout:
            outcomes.append("timeout")

    assert outcomes.count("timeout") == 3 == upstream.tried.count("a")
    assert all(len(tried) == 1 for tried in upstream.calls)  # no timed-out request went to "b"
    assert outcomes[-4:] == ["b"] * 4
    assert row("a").failure_count == 3


def test_a_lost_job_stops_at_once_and_counts_against_its_key():
    _, route = vendor_with_keys("a", "b")
    upstream = Upstream(a=failing(errors.JobLost), b=failing(errors.JobLost))

    exc = upstream.failure(route)

    assert isinstance(exc, errors.JobLost) and len(upstream.tried) == 1
    lost = row(upstream.tried[0])
    assert (lost.status, lost.failure_count) == (VendorKey.Status.SUSPECT, 1)
    assert lost.last_error.startswith("upstream_job_lost: ")


def test_a_vendor_without_keys_has_no_available_key_and_nothing_is_sent():
    vendor, _ = vendor_with_keys()
    upstream = Upstream()

    exc = upstream.failure(route_of(vendor, ()))

    assert isinstance(exc, errors.NoAvailableKey)
    assert exc.retry_after is None and "none are configured" in exc.message
    assert upstream.tried == []


def test_when_every_key_fails_the_error_carries_the_last_failure():
    _, route = vendor_with_keys("a", "b")
    upstream = Upstream(a=failing(errors.UpstreamUnavailable, "a is down"), b=failing(errors.RateLimited, "b is busy"))

    exc = upstream.failure(route)

    assert isinstance(exc, errors.AllKeysFailed) and exc.status == 502
    last = upstream.tried[-1]
    assert exc.last.key_label == exc.key_label == last
    assert f"{last} is" in exc.last.message and exc.last.message in exc.message


def test_no_error_message_or_key_row_shows_the_keys_secret():
    _, route = vendor_with_keys("a")
    [key] = route.keys
    upstream = Upstream(a=failing(errors.UpstreamUnavailable, "overloaded"))

    exc = upstream.failure(route)

    for text in (exc.message, exc.last.message, row("a").last_error):
        assert key.secret not in text
        assert "…" + key.secret[-4:] in text


def test_a_success_names_the_key_that_served_and_marks_its_last_use_at_most_every_half_minute():
    _, route = vendor_with_keys("a")
    upstream = Upstream()

    assert upstream.call(route).key_label == "a"
    first_use = row("a").last_used_at
    upstream.call(route)

    assert first_use is not None and row("a").last_used_at == first_use
    assert row("a").failure_count == 0
