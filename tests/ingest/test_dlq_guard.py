"""The dead-letter cap trips on a mostly-dead window, never on a few bad messages."""

from __future__ import annotations

from ingest.dlq_guard import DlqGuard

KEY = ("t", 0)


def test_trips_only_with_a_full_window_over_the_ratio() -> None:
    guard = DlqGuard(0.5, 10)
    verdicts = [guard.record(KEY, dead=True) for _ in range(9)]
    assert not any(v.tripped for v in verdicts)  # window not full yet
    assert guard.record(KEY, dead=True).tripped


def test_exactly_half_does_not_trip_and_old_outcomes_slide_out() -> None:
    guard = DlqGuard(0.5, 4)
    for dead in (True, False, True, False):
        verdict = guard.record(KEY, dead)
    assert not verdict.tripped and verdict.dead == 2
    # Sliding: True falls out, True comes in -> still 2 of 4.
    assert guard.record(KEY, True).dead == 2
    assert guard.record(KEY, True).tripped  # False fell out: 3 of 4


def test_partitions_are_independent_and_forget_resets() -> None:
    guard = DlqGuard(0.5, 2)
    guard.record(KEY, True)
    assert not guard.record(("t", 1), True).tripped
    assert guard.record(KEY, True).tripped
    guard.forget(KEY)
    assert not guard.record(KEY, True).tripped


def test_ratio_of_one_disables_it() -> None:
    guard = DlqGuard(1.0, 3)
    assert not any(guard.record(KEY, True).tripped for _ in range(10))
