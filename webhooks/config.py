"""``vh webhooks`` settings, declared once each (``schemas.env.setting``), read once."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import ClassVar

from schemas import env
from schemas.enriched_stream import EnrichedStreamSettings
from schemas.env import ClickHouseSettings, nested, setting
from webhooks.errors import ConfigError


@dataclass(frozen=True, slots=True)
class WebhooksConfig:
    """Everything ``vh webhooks`` needs (docs/webhooks.md). Defaults work locally, except
    that private targets (the local demo's loopback receiver) must be allowed explicitly."""

    USED_BY: ClassVar[str] = "`vh webhooks`"

    # The same variable as the worker's (one Kafka); declared here too because this
    # package does not import ingest. The README's table shows it once, used by both.
    kafka_bootstrap: str = setting(
        "VH_KAFKA_BOOTSTRAP", "127.0.0.1:19092", "Kafka bootstrap servers"
    )
    enriched: EnrichedStreamSettings = nested(EnrichedStreamSettings)
    clickhouse: ClickHouseSettings = nested(ClickHouseSettings)
    group: str = setting(
        "VH_WEBHOOKS_GROUP", "visit-history-webhooks", "consumer group of `vh webhooks run`"
    )
    timeout_seconds: float = setting(
        "VH_WEBHOOKS_TIMEOUT_SECONDS", 10.0, "one POST's time limit", minimum=0.0, exclusive=True
    )
    retry_for_seconds: float = setting(
        "VH_WEBHOOKS_RETRY_FOR_SECONDS",
        21_600.0,
        "how long a failing delivery is retried before its dead letter (default 6 h)",
        minimum=0.0,
    )
    retry_initial_seconds: float = setting(
        "VH_WEBHOOKS_RETRY_INITIAL_SECONDS",
        1.0,
        "first retry delay cap (exponential, full jitter)",
        minimum=0.0,
    )
    retry_max_seconds: float = setting(
        "VH_WEBHOOKS_RETRY_MAX_SECONDS", 600.0, "largest retry delay cap", minimum=0.0
    )
    concurrency: int = setting(
        "VH_WEBHOOKS_CONCURRENCY",
        4,
        "POSTs in flight per endpoint (lanes; a visitor's events share one, in order)",
        minimum=1,
    )
    queue_size: int = setting(
        "VH_WEBHOOKS_QUEUE_SIZE",
        1_000,
        "deliveries waiting per endpoint; beyond, dead-lettered as queue_full",
        minimum=1,
    )
    rotation_grace_seconds: float = setting(
        "VH_WEBHOOKS_ROTATION_GRACE_SECONDS",
        86_400.0,
        "after rotate-secret, how long the old secret still signs too",
        minimum=0.0,
    )
    allow_private: bool = setting(
        "VH_WEBHOOKS_ALLOW_PRIVATE",
        False,
        "allow loopback, link-local and private targets (tests, local demos only)",
    )
    refresh_seconds: float = setting(
        "VH_WEBHOOKS_REFRESH_SECONDS", 10.0, "how stale the endpoint list may be", minimum=0.1
    )
    response_max_bytes: int = setting(
        "VH_WEBHOOKS_RESPONSE_MAX_BYTES", 4_096, "response body bytes read, then dropped",
        minimum=0,
    )  # fmt: skip
    metrics_port: int = setting(
        "VH_WEBHOOKS_METRICS_PORT", 9465, "Prometheus endpoint of `vh webhooks run`; 0 disables",
        minimum=0,
    )  # fmt: skip

    @classmethod
    def from_env(cls, environ: Mapping[str, str]) -> WebhooksConfig:
        """Raises ConfigError naming the first unusable variable."""
        return env.load(cls, environ, error=ConfigError)
