"""Exponential backoff with full jitter, as a value the caller consults. Pure.

The worker never sleeps inside a retry loop: it must keep polling Kafka while ClickHouse is
down (group membership), so it asks :meth:`Backoff.next_delay` when the next attempt is due
and carries on polling until then. Full jitter (a uniform draw below the exponential cap)
keeps N workers that saw the same outage from retrying in lockstep.
"""

from __future__ import annotations

import random
from collections.abc import Callable


class Backoff:
    """Delays ``uniform(0, min(max_s, initial_s * 2**n))`` for the n-th consecutive failure.

    Args:
        initial_s: cap of the first delay.
        max_s: largest cap.
        rand: returns a float in [0, 1) (``random.random``; a fixed value in tests).
    """

    def __init__(
        self, initial_s: float, max_s: float, rand: Callable[[], float] = random.random
    ) -> None:
        self.initial_s = initial_s
        self.max_s = max(max_s, initial_s)
        self._rand = rand
        self.failures = 0

    def next_delay(self) -> float:
        """Record one more failure; return how long to wait before the next attempt."""
        cap = min(self.max_s, self.initial_s * 2 ** min(self.failures, 32))
        self.failures += 1
        # Never 0: a zero delay would spin against a server that just refused us.
        return float(max(cap * self._rand(), min(0.05, cap)))

    def reset(self) -> None:
        """A call succeeded: the next failure starts again from ``initial_s``."""
        self.failures = 0
