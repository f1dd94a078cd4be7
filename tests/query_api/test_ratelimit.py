"""Token buckets with an injected clock."""

from __future__ import annotations

from query_api.ratelimit import RateLimiter


class FakeClock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def test_burst_then_refill_at_the_rate() -> None:
    clock = FakeClock()
    limiter = RateLimiter(rate=2.0, burst=3, clock=clock)
    assert [limiter.acquire("t") for _ in range(3)] == [0, 0, 0]
    assert limiter.acquire("t") == 1  # 0.5 s to the next token, rounded up to whole seconds
    clock.now += 0.5
    assert limiter.acquire("t") == 0
    assert limiter.acquire("t") >= 1


def test_tokens_have_separate_buckets() -> None:
    limiter = RateLimiter(rate=0.1, burst=1, clock=FakeClock())
    assert limiter.acquire("a") == 0
    assert limiter.acquire("a") == 10
    assert limiter.acquire("b") == 0


def test_bucket_never_exceeds_burst() -> None:
    clock = FakeClock()
    limiter = RateLimiter(rate=100.0, burst=2, clock=clock)
    clock.now += 3600
    assert [limiter.acquire("t") for _ in range(3)] == [0, 0, 1]
