"""Start-up waits: a check that could not reach its service is retried until the deadline;
a definite refusal is not. Pure (a fake clock)."""

from __future__ import annotations

import pytest

from ingest.backoff import Backoff
from ingest.startup import NotReady, Unreachable, until_ready


class Start:
    """A fake clock and sleep, and an attempt failing ``times`` times with ``error``."""

    def __init__(self, times: int, error: Exception) -> None:
        self.now = 0.0
        self.slept: list[float] = []
        self.calls = 0
        self.times, self.error = times, error

    def attempt(self) -> str:
        self.calls += 1
        if self.calls <= self.times:
            raise self.error
        return "ready"

    def clock(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.slept.append(seconds)
        self.now += seconds

    def run(self, deadline: float, backoff: Backoff) -> str:
        return until_ready(
            self.attempt, deadline=deadline, backoff=backoff, clock=self.clock, sleep=self.sleep
        )


def test_an_unreachable_service_is_retried_with_backoff_until_it_answers() -> None:
    start = Start(3, Unreachable("Kafka at x is not reachable"))
    assert start.run(60.0, Backoff(1.0, 8.0, rand=lambda: 0.999)) == "ready"
    assert start.calls == 4
    assert [round(s, 2) for s in start.slept] == [1.0, 2.0, 4.0]  # the caps, doubling


def test_still_unreachable_at_the_deadline_raises_the_last_failure_without_oversleeping() -> None:
    start = Start(1_000, Unreachable("ClickHouse at y is not reachable"))
    with pytest.raises(Unreachable, match="ClickHouse at y"):
        start.run(10.0, Backoff(1.0, 4.0, rand=lambda: 0.999))
    assert start.now <= 10.0  # no sleep runs past the deadline
    assert start.calls == len(start.slept) + 1 >= 3


def test_a_definite_refusal_is_not_retried() -> None:
    start = Start(1, NotReady("database has no visits table: run `vh migrate`"))
    with pytest.raises(NotReady, match="vh migrate"):
        start.run(60.0, Backoff(1.0, 4.0))
    assert start.calls == 1 and start.slept == []


def test_a_zero_timeout_tries_once() -> None:
    start = Start(5, Unreachable("Kafka at x is not reachable"))
    with pytest.raises(Unreachable):
        start.run(0.0, Backoff(0.2, 5.0))
    assert start.calls == 1
