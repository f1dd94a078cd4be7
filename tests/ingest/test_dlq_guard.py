"""The dead-letter cap trips on a mostly-dead window, never on a few bad messages."""

from __future__ import annotations

from ingest.dlq_guard import DlqGuard


def test_trips_only_with_a_full_window_over_the_ratio() -> None:
    guard = DlqGuard(0.5, 10)
    window = guard.new_window()
    verdicts = [guard.record(window, dead=True) for _ in range(9)]
    assert not any(v.tripped for v in verdicts)  # window not full yet
    assert guard.record(window, dead=True).tripped


def test_exactly_half_does_not_trip_and_old_outcomes_slide_out() -> None:
    guard = DlqGuard(0.5, 4)
    window = guard.new_window()
    for dead in (True, False, True, False):
        verdict = guard.record(window, dead)
    assert not verdict.tripped and verdict.dead == 2
    # Sliding: True falls out, True comes in -> still 2 of 4.
    assert guard.record(window, True).dead == 2
    assert guard.record(window, True).tripped  # False fell out: 3 of 4


def test_partitions_are_independent_and_a_new_window_resets() -> None:
    guard = DlqGuard(0.5, 2)
    first, second = guard.new_window(), guard.new_window()
    guard.record(first, True)
    assert not guard.record(second, True).tripped
    assert guard.record(first, True).tripped
    first = guard.new_window()  # what PartitionState.drop does
    assert not guard.record(first, True).tripped


def test_ratio_of_one_disables_it() -> None:
    guard = DlqGuard(1.0, 3)
    window = guard.new_window()
    assert not any(guard.record(window, True).tripped for _ in range(10))
