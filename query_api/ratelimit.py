"""Per-token token buckets: ``rate`` requests per second on average, bursts up to ``burst``.

State is per process: with N uvicorn workers a token may get up to N times the rate. Good
enough to stop a runaway client; a shared limiter would need a store all workers reach.
"""

from __future__ import annotations

import math
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass

Clock = Callable[[], float]


@dataclass(slots=True)
class _Bucket:
    tokens: float
    updated: float


class RateLimiter:
    """Token buckets keyed by token id. Thread-safe; ``clock`` is injectable for tests."""

    def __init__(
        self, rate: float, burst: int, clock: Clock = time.monotonic, max_keys: int = 100_000
    ) -> None:
        self.rate, self.burst, self._clock = rate, burst, clock
        self._buckets: dict[str, _Bucket] = {}
        self._lock = threading.Lock()
        self._max_keys = max_keys

    def acquire(self, key: str) -> int:
        """Take one request for ``key``: 0 when allowed, else whole seconds to wait (>= 1)."""
        now = self._clock()
        with self._lock:
            bucket = self._buckets.get(key)
            if bucket is None:
                if len(self._buckets) >= self._max_keys:
                    self._buckets.clear()  # bounded memory; only ever keyed by known tokens
                bucket = self._buckets[key] = _Bucket(float(self.burst), now)
            bucket.tokens = min(self.burst, bucket.tokens + (now - bucket.updated) * self.rate)
            bucket.updated = now
            if bucket.tokens >= 1.0:
                bucket.tokens -= 1.0
                return 0
            return max(1, math.ceil((1.0 - bucket.tokens) / self.rate))
