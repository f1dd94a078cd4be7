"""Start-up waits: a check that could not reach its service is retried until the deadline;
a definite refusal is not. Pure (a fake clock)."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from ingest.backoff import Backoff
from ingest.startup import NotReady, Unreachable, until_ready


class FakeTime:
    def __init__(self) -> None:
        self.now = 0.0
        self.slept: list[float] = []

    def clock(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.slept.append(seconds)
        self.now += seconds


def _failing(times: int, error: Exception) -> tuple[list[int], Callable[[], str]]:
    calls: list[int] = []

    def attempt() -> str:
        calls.append(1)
        if len(calls) <= times:
            raise error
        return "ready"

    return calls, attempt


def test_an_unreachable_service_is_retried_with_backoff_until_it_answers() -> None:
    t = FakeTime()
    calls, attempt = _failing(3, Unreachable("Kafka at x is not reachable"))
    got = until_ready(
        attempt,
        deadline=60.0,
        backoff=Backoff(1.0, 8.0, rand=lambda: 0.999),
        clock=t.clock,
        sleep=t.sleep,
    )
    assert got == "ready" and len(calls) == 4
    assert [round(s, 2) for s in t.slept] == [1.0, 2.0, 4.0]  # the caps, doubling


def test_still_unreachable_at_the_deadline_raises_the_last_failure_without_oversleeping() -> None:
    t = FakeTime()
    calls, attempt = _failing(1_000, Unreachable("ClickHouse at y is not reachable"))
    with pytest.raises(Unreachable, match="ClickHouse at y"):
        until_ready(
            attempt,
            deadline=10.0,
            backoff=Backoff(1.0, 4.0, rand=lambda: 0.999),
            clock=t.clock,
            sleep=t.sleep,
        )
    assert t.now <= 10.0  # no sleep runs past the deadline
    assert len(calls) == len(t.slept) + 1 >= 3


def test_a_definite_refusal_is_not_retried() -> None:
    t = FakeTime()
    calls, attempt = _failing(1, NotReady("database has no visits table: run `vh migrate`"))
    with pytest.raises(NotReady, match="vh migrate"):
        until_ready(
            attempt,
            deadline=60.0,
            backoff=Backoff(1.0, 4.0),
            clock=t.clock,
            sleep=t.sleep,
        )
    assert len(calls) == 1 and t.slept == []


def test_a_zero_timeout_tries_once() -> None:
    t = FakeTime()
    calls, attempt = _failing(5, Unreachable("Kafka at x is not reachable"))
    with pytest.raises(Unreachable):
        until_ready(
            attempt,
            deadline=0.0,
            backoff=Backoff(0.2, 5.0),
            clock=t.clock,
            sleep=t.sleep,
        )
    assert len(calls) == 1
