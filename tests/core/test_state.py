"""The process state: one object per class of per-process state, dropped all at once by a reset."""

from dataclasses import dataclass, field

from core.state import ProcessState, process_state, reset_process_state


@dataclass
class Notes:
    seen: list[str] = field(default_factory=list)


@dataclass
class Tally:
    count: int = 0


def test_a_slot_is_the_same_object_every_time_for_its_class():
    state = ProcessState()

    state.slot(Notes).seen.append("first")

    assert state.slot(Notes) is state.slot(Notes)
    assert state.slot(Notes).seen == ["first"]


def test_each_class_has_its_own_slot():
    state = ProcessState()

    state.slot(Tally).count += 1

    assert state.slot(Notes) is not state.slot(Tally)
    assert (state.slot(Tally).count, state.slot(Notes).seen) == (1, [])


def test_two_states_share_no_slot():
    assert ProcessState().slot(Notes) is not ProcessState().slot(Notes)


def test_the_process_state_is_one_object_until_it_is_reset():
    process_state().slot(Tally).count = 5

    assert process_state() is process_state()
    assert process_state().slot(Tally).count == 5


def test_resetting_the_process_state_drops_every_slot():
    before = process_state()
    before.slot(Tally).count = 5
    before.slot(Notes).seen.append("x")

    after = reset_process_state()

    assert after is process_state() and after is not before
    assert (after.slot(Tally).count, after.slot(Notes).seen) == (0, [])
