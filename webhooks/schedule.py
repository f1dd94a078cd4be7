"""When to try a failed delivery again, and when to give up: pure.

Exponential backoff with full jitter (AWS's "Exponential Backoff and Jitter": a uniformly
random delay up to ``min(max, initial * 2**(attempt-1))``), so endpoints that failed
together do not get their retries together; deliveries are retried until ``retry_for_s``
after the first attempt (default hours, so an endpoint down for a deploy or an outage still
gets everything), then dead-lettered for ``vh webhooks replay``.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class RetrySchedule:
    """``initial_s``/``max_s``: the delay caps; ``retry_for_s``: how long to keep trying."""

    initial_s: float
    max_s: float
    retry_for_s: float

    def cap(self, attempt: int) -> float:
        """The jitter's upper bound after ``attempt`` failed attempts (1-based)."""
        return min(self.max_s, self.initial_s * 2.0 ** max(attempt - 1, 0))

    def next_delay(
        self, attempt: int, elapsed_s: float, random: Callable[[], float]
    ) -> float | None:
        """Seconds to wait before the next attempt, after ``attempt`` failures and
        ``elapsed_s`` since the first; None when the next attempt would start past the
        retry window (give up: dead-letter it). ``random`` is uniform in [0, 1)."""
        delay = self.cap(attempt) * random()
        if elapsed_s + delay > self.retry_for_s:
            return None
        return delay
