"""Exponential backoff with full jitter, capped, reset after success."""

from __future__ import annotations

from ingest.backoff import Backoff


def test_caps_double_up_to_the_maximum_and_jitter_scales_them() -> None:
    top = Backoff(0.5, 4.0, rand=lambda: 0.999999)
    assert [round(top.next_delay(), 3) for _ in range(6)] == [0.5, 1.0, 2.0, 4.0, 4.0, 4.0]
    half = Backoff(0.5, 4.0, rand=lambda: 0.5)
    assert [half.next_delay() for _ in range(3)] == [0.25, 0.5, 1.0]


def test_never_zero_and_reset_starts_over() -> None:
    backoff = Backoff(1.0, 8.0, rand=lambda: 0.0)
    assert backoff.next_delay() > 0
    backoff.next_delay()
    backoff.reset()
    assert backoff.failures == 0
