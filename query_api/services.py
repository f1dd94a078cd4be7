"""What the lifespan opens and every request reaches through ``request.state.services``."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field

from query_api.coalesce import Coalescer
from query_api.config import ApiConfig
from query_api.metrics import Metrics
from query_api.pool import ClientPool
from query_api.ratelimit import RateLimiter
from query_api.tokens import TokenStore
from schemas.clickhouse.layout import Layout


def wall_clock_ms() -> int:
    return time.time_ns() // 1_000_000


@dataclass
class Services:
    """The app's resources. ``now_ms`` is injectable so tests can pin "now"."""

    config: ApiConfig
    pool: ClientPool
    tokens: TokenStore
    limiter: RateLimiter
    metrics: Metrics
    openapi: bytes
    openapi_v4: bytes
    now_ms: Callable[[], int] = field(default=wall_clock_ms)
    #: Batches first pages that wait for ClickHouse together; None: each page alone.
    coalescer: Coalescer | None = None

    @property
    def layout(self) -> Layout:
        """Where the schema lives (one server, or a cluster)."""
        return self.config.clickhouse.layout
