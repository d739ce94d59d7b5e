"""Snapshots: a value built from the database once per process, served from memory until its time is up."""

import asyncio
import time

import pytest

from core.db import Snapshot
from core.state import reset_process_state
from tests.factories import make_vendor
from vendors.models import Vendor


class Counted:
    """A build that returns how many times it has run."""

    def __init__(self) -> None:
        self.builds = 0

    def __call__(self) -> int:
        self.builds += 1
        return self.builds


def read(snapshot: Snapshot) -> object:
    return asyncio.run(snapshot.get())


@pytest.fixture
def build():
    return Counted()


def test_a_snapshot_is_built_once_and_served_from_memory_within_its_time(settings, build):
    settings.ROUTING_CACHE_SECONDS = 60
    snapshot = Snapshot(build)

    values = [read(snapshot) for _ in range(3)]

    assert values == [1, 1, 1]
    assert build.builds == 1


def test_a_snapshot_is_built_again_once_its_time_is_up(settings, build):
    settings.ROUTING_CACHE_SECONDS = 0.05
    snapshot = Snapshot(build)
    assert read(snapshot) == 1

    time.sleep(0.1)

    assert read(snapshot) == 2


def test_with_no_time_to_keep_every_read_builds_afresh(settings, build):
    settings.ROUTING_CACHE_SECONDS = 0
    snapshot = Snapshot(build)

    assert [read(snapshot) for _ in range(2)] == [1, 2]


def test_invalidating_a_snapshot_makes_the_next_read_build_again(settings, build):
    settings.ROUTING_CACHE_SECONDS = 60
    snapshot, other_build = Snapshot(build), Counted()
    other = Snapshot(other_build)
    for each in (snapshot, other):
        read(each)

    snapshot.invalidate()

    assert (read(snapshot), read(other)) == (2, 1)  # only the invalidated one is rebuilt
    assert other_build.builds == 1


def test_invalidating_a_snapshot_never_read_is_harmless(build):
    snapshot = Snapshot(build)

    snapshot.invalidate()

    assert read(snapshot) == 1


def test_resetting_the_process_state_drops_every_snapshot_value(settings, build):
    settings.ROUTING_CACHE_SECONDS = 60
    other_build = Counted()
    snapshots = [Snapshot(build), Snapshot(other_build)]
    for snapshot in snapshots:
        read(snapshot)

    reset_process_state()

    assert [read(snapshot) for snapshot in snapshots] == [2, 2]


def test_a_build_that_fails_is_not_kept_and_the_next_read_tries_again(settings):
    settings.ROUTING_CACHE_SECONDS = 60
    answers = iter([RuntimeError("database away"), "table"])

    def flaky():
        answer = next(answers)
        if isinstance(answer, Exception):
            raise answer
        return answer

    snapshot = Snapshot(flaky)
    with pytest.raises(RuntimeError, match="database away"):
        read(snapshot)

    assert read(snapshot) == "table"


@pytest.mark.django_db(transaction=True)
def test_a_snapshot_build_reads_the_database_from_async_code(settings):
    settings.ROUTING_CACHE_SECONDS = 60
    make_vendor(name="first")
    snapshot = Snapshot(lambda: sorted(Vendor.objects.values_list("name", flat=True)))
    assert read(snapshot) == ["first"]
    make_vendor(name="second")

    held = read(snapshot)
    snapshot.invalidate()

    assert (held, read(snapshot)) == (["first"], ["first", "second"])


def test_requests_that_find_a_snapshot_out_of_date_together_wait_for_one_build(settings):
    settings.ROUTING_CACHE_SECONDS = 60
    build = Counted()

    def slow_build() -> int:
        time.sleep(0.05)  # long enough for every reader to arrive while it runs
        return build()

    snapshot = Snapshot(slow_build)

    async def burst():
        return await asyncio.gather(*(snapshot.get() for _ in range(200)))

    assert asyncio.run(burst()) == [1] * 200
    assert build.builds == 1


def test_a_build_begun_before_an_invalidate_is_not_kept(settings):
    settings.ROUTING_CACHE_SECONDS = 60
    build = Counted()

    def slow_build() -> int:
        time.sleep(0.05)
        return build()

    snapshot = Snapshot(slow_build)

    async def change_while_building():
        early = asyncio.ensure_future(snapshot.get())
        await asyncio.sleep(0.01)  # the build has begun: the rows change now
        snapshot.invalidate()
        return await early, await snapshot.get()

    assert asyncio.run(change_while_building()) == (1, 2)
