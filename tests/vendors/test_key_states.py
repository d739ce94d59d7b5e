"""Every change of a key's state, as the key loop makes it: the verdict on the row, the rest's end, the
history row (time, from, to, why), and the evidence a key is auto-disabled on."""

import asyncio
import contextlib
import time
from dataclasses import replace
from datetime import timedelta

import pytest
from django.core.cache import cache
from django.utils import timezone

from tests.vendors.keys_helpers import Upstream, failing, vendor_with_keys
from vendors import errors
from vendors.key_evidence import calls_key, cooldown_key
from vendors.models import KeyStateChange, VendorKey
from vendors.selectors import invalidate_routing_table, vendor_route
from vendors.services import reset_key

pytestmark = pytest.mark.django_db(transaction=True)
Status = VendorKey.Status


def row(label: str) -> VendorKey:
    return VendorKey.objects.get(label=label)


def history(label: str) -> list[tuple[str, str]]:
    return [(change.from_state, change.to_state) for change in row(label).state_changes.order_by("at", "id")]


def keys(*labels: str, disable_after: int | None = 5, window: int = 20):
    vendor, route = vendor_with_keys(*labels)
    return vendor, replace(route, failures_to_disable=disable_after, failure_window=window)


def test_a_healthy_key_writes_no_state_and_counts_no_calls():
    _, route = keys("a")
    upstream = Upstream()
    for _ in range(3):
        upstream.call(route)
    assert row("a").status == Status.ACTIVE
    assert KeyStateChange.objects.count() == 0
    assert cache.get(calls_key(route.keys[0].id)) is None  # a success of a healthy key costs no write


def test_one_failure_makes_a_key_suspect_and_calls_without_failure_make_it_active_again(settings):
    settings.KEY_FAILURES_BEFORE_COOLDOWN = 10
    _, route = keys("a", window=3)
    upstream = Upstream(a=failing(errors.UpstreamUnavailable, "Model service overloaded"))
    upstream.failure(route)
    suspect = row("a")
    assert suspect.status == Status.SUSPECT and "upstream_unavailable" in suspect.status_reason
    assert suspect.status_changed_at is not None

    upstream.answers = {}
    for _ in range(2):
        upstream.call(route)
        assert row("a").status == Status.SUSPECT  # the failure is still among its last 3 calls
    upstream.call(route)

    assert row("a").status == Status.ACTIVE
    assert history("a") == [("active", "suspect"), ("suspect", "active")]
    assert row("a").state_changes.first().reason == "no failure in its last calls"


def test_a_rate_limited_key_is_cooling_until_its_rest_ends_on_the_row_and_comes_back(settings):
    _, route = keys("a")
    upstream = Upstream(a=failing(errors.RateLimited, "slow down", retry_after=1))
    upstream.failure(route)
    resting = row("a")
    assert resting.status == Status.COOLING and resting.state_now() == Status.COOLING
    assert resting.status_reason.startswith("rate limited (upstream_rate_limited: slow down")
    assert timezone.now() < resting.cooling_until <= timezone.now() + timedelta(seconds=1.5)

    time.sleep(1.1)
    assert row("a").state_now() == Status.ACTIVE  # read as back once the rest is over, before any call
    upstream.answers = {}
    upstream.call(route)

    back = row("a")
    assert (back.status, back.cooling_until) == (Status.ACTIVE, None)
    assert history("a") == [("active", "cooling"), ("cooling", "active")]
    assert back.state_changes.first().reason.startswith("its rest ended at ")


def test_failures_in_a_row_rest_the_key_with_the_reason(settings):
    settings.KEY_FAILURES_BEFORE_COOLDOWN, settings.KEY_FAILURE_COOLDOWN = 2, 30
    _, route = keys("a")
    upstream = Upstream(a=failing(errors.GenerationFailed, "no image in the answer"))
    for _ in range(2):
        upstream.failure(route)

    resting = row("a")
    assert resting.status == Status.COOLING
    assert resting.status_reason.startswith("2 failures in a row (upstream_no_image")
    assert resting.cooling_until > timezone.now() + timedelta(seconds=25)
    assert history("a") == [("active", "suspect"), ("suspect", "cooling")]


def test_a_rejected_key_is_auto_disabled_at_once_with_why():
    _, route = keys("a", "b")
    upstream = Upstream(a=failing(errors.KeyRejected, "Invalid token"))
    for _ in range(2):
        upstream.call(route)

    disabled = row("a")
    assert disabled.status == Status.AUTO_DISABLED
    assert disabled.status_reason.startswith("rejected at once (upstream_key_rejected: Invalid token")
    assert history("a") == [("active", "auto_disabled")]


def test_a_key_failing_one_way_while_another_serves_is_auto_disabled_on_the_evidence(settings):
    settings.KEY_FAILURES_BEFORE_COOLDOWN = 10
    _, route = keys("a", "b", disable_after=3, window=10)
    upstream = Upstream(a=failing(errors.UpstreamUnavailable, "502 from the vendor"))
    while upstream.tried.count("a") < 3:
        assert upstream.call(route).key_label == "b"
        expected = {0: Status.ACTIVE, 3: Status.AUTO_DISABLED}.get(upstream.tried.count("a"), Status.SUSPECT)
        assert row("a").status == expected

    disabled = row("a")
    assert disabled.status_reason.startswith(
        "3 upstream_unavailable failures in its last 10 calls, while another key of the vendor served"
    )
    assert history("a") == [("active", "suspect"), ("suspect", "auto_disabled")]
    for _ in range(3):
        upstream.call(route)
    assert upstream.tried.count("a") == 3  # out of rotation


def test_when_every_key_fails_the_same_way_the_vendor_is_at_fault_and_no_key_is_disabled(settings):
    settings.KEY_FAILURES_BEFORE_COOLDOWN = 10
    _, route = keys("a", "b", disable_after=2, window=10)
    upstream = Upstream(a=failing(errors.UpstreamUnavailable), b=failing(errors.UpstreamUnavailable))
    for _ in range(3):
        upstream.failure(route)
    assert {row("a").status, row("b").status} == {Status.SUSPECT}


def test_failures_of_different_classes_or_far_apart_are_no_evidence(settings):
    settings.KEY_FAILURES_BEFORE_COOLDOWN = 10
    _, route = keys("a", disable_after=2, window=3)
    upstream = Upstream()
    for answer in [errors.UpstreamUnavailable, errors.GenerationFailed, None, None, None, errors.UpstreamUnavailable]:
        upstream.answers = {"a": failing(answer)} if answer else {}
        with contextlib.suppress(errors.AllKeysFailed):
            upstream.call(route)
    assert row("a").status == Status.SUSPECT
    assert history("a") == [("active", "suspect"), ("suspect", "active"), ("active", "suspect")]


def test_a_vendor_that_never_disables_for_failures(settings):
    settings.KEY_FAILURES_BEFORE_COOLDOWN = 10
    _, route = keys("a", "b", disable_after=None, window=5)
    upstream = Upstream(a=failing(errors.UpstreamTimeout))
    for _ in range(8):
        with contextlib.suppress(errors.UpstreamTimeout):
            upstream.call(route)
    assert upstream.tried.count("a") >= 3 and row("a").status == Status.SUSPECT


def test_a_reset_brings_a_disabled_key_back_and_forgets_its_evidence():
    _, route = keys("a")
    Upstream(a=failing(errors.KeyRejected)).failure(route)
    reset_key(row("a"))

    key = row("a")
    assert (key.status, key.failure_count, key.status_reason) == (Status.ACTIVE, 0, "reset by the operator")
    assert cache.get(cooldown_key(key.id)) is None
    assert history("a") == [("active", "auto_disabled"), ("auto_disabled", "active")]
    assert Upstream().call(route).key_label == "a"


def test_the_operators_switch_is_recorded_apart_from_the_verdict():
    _, route = keys("a")
    Upstream(a=failing(errors.UpstreamUnavailable)).failure(route)
    key = row("a")
    key.enabled = False
    key.save()
    assert row("a").state_now() == "operator_off" and row("a").status == Status.SUSPECT
    key.enabled = True
    key.save()

    assert history("a") == [("active", "suspect"), ("suspect", "operator_off"), ("operator_off", "suspect")]
    assert [change.reason for change in row("a").state_changes.order_by("at", "id")][1:] == [
        "switched off by the operator",
        "switched on by the operator",
    ]


def test_a_failure_leaves_a_disabled_key_disabled():
    _, route = keys("a")
    Upstream(a=failing(errors.KeyRejected)).failure(route)
    cache.delete(cooldown_key(route.keys[0].id))  # as if its rest in the cache were gone
    Upstream(a=failing(errors.UpstreamUnavailable)).failure(route)
    assert row("a").status == Status.AUTO_DISABLED and history("a") == [("active", "auto_disabled")]


def rest_on_the_row(label: str, seconds: float):
    """A rest written to the row by another instance, whose cache this one does not share."""
    until = timezone.now() + timedelta(seconds=seconds)
    VendorKey.objects.filter(label=label).update(status=Status.COOLING, cooling_until=until)
    invalidate_routing_table()


def test_a_rest_on_the_row_keeps_the_key_out_where_the_cache_never_heard_of_it():
    vendor, _ = keys("a", "b")
    rest_on_the_row("a", 60)
    upstream = Upstream()

    assert {upstream.call(asyncio.run(vendor_route(vendor.id))).key_label for _ in range(4)} == {"b"}
    rest_on_the_row("b", 30)
    exc = upstream.failure(asyncio.run(vendor_route(vendor.id)))

    assert isinstance(exc, errors.NoAvailableKey) and exc.retry_after == pytest.approx(30, abs=2)


def test_a_key_back_from_a_rest_after_failures_is_still_suspect_until_its_failures_are_old(settings):
    settings.KEY_FAILURES_BEFORE_COOLDOWN = 2
    _, route = keys("a", window=4)
    upstream = Upstream(a=failing(errors.UpstreamUnavailable))
    for _ in range(2):
        upstream.failure(route)
    cache.delete(cooldown_key(route.keys[0].id))  # the rest is over
    VendorKey.objects.filter(label="a").update(cooling_until=timezone.now() - timedelta(seconds=1))
    upstream.answers = {}

    upstream.call(route)
    back = row("a")
    assert back.status == Status.SUSPECT and back.cooling_until is None
    assert back.status_reason.startswith("its rest ended at ")
    assert back.status_reason.endswith("; a failure is still among its last calls")
    for _ in range(2):
        upstream.call(route)
    assert row("a").status == Status.SUSPECT  # calls 3-5 of its life: the failures of calls 1-2 are among its last 4
    upstream.call(route)

    steps = [("active", "suspect"), ("suspect", "cooling"), ("cooling", "suspect"), ("suspect", "active")]
    assert history("a") == steps
