"""Worker settings, declared once each (``schemas.env.setting``) and read once at start-up."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, replace
from typing import ClassVar

from ingest.errors import ConfigError
from schemas import env
from schemas.enriched_stream import EnrichedStreamSettings
from schemas.env import ClickHouseSettings, nested, setting


@dataclass(frozen=True, slots=True)
class IngestConfig:
    """Everything the worker and the ingest commands need (docs/ingest.md). Defaults work
    against the local stack."""

    USED_BY: ClassVar[str] = "worker"

    kafka_bootstrap: str = setting(
        "VH_KAFKA_BOOTSTRAP", "127.0.0.1:19092", "Kafka bootstrap servers"
    )
    topic: str = setting("VH_KAFKA_TOPIC", "visits.raw", "raw visit topic")
    dlq_topic: str = setting("VH_KAFKA_DLQ_TOPIC", "visits.dlq", "dead-letter topic")
    enriched: EnrichedStreamSettings = nested(EnrichedStreamSettings)
    group: str = setting(
        "VH_KAFKA_GROUP", "visit-history-ingest", "consumer group (`-replay` suffix for replay)"
    )
    kafka_replication_factor: int = setting(
        "VH_KAFKA_REPLICATION_FACTOR",
        3,
        "replicas of the topics we create (capped by the brokers there are)",
        minimum=1,
    )
    kafka_min_insync_replicas: int = setting(
        "VH_KAFKA_MIN_INSYNC_REPLICAS",
        2,
        "`min.insync.replicas` of the topics we create: with acks=all, a write needs this many",
        minimum=1,
    )
    clickhouse: ClickHouseSettings = nested(ClickHouseSettings)
    # Group membership. A member that dies without leaving (kill -9, power loss) keeps its
    # partitions until the session times out; the broker accepts 6 s to 5 min by default.
    kafka_session_timeout_ms: int = setting(
        "VH_KAFKA_SESSION_TIMEOUT_MS",
        30_000,
        "group session: how long a crashed member holds its partitions (broker minimum 6000)",
        minimum=1_000,
    )
    # Kafka wants heartbeats well inside the session: default a tenth of it (3 s of 30 s).
    kafka_heartbeat_interval_ms: int = setting(
        "VH_KAFKA_HEARTBEAT_INTERVAL_MS",
        3_000,
        "heartbeat interval (at most a third of the session)",
        minimum=100,
        shown="a tenth of the session",
    )
    kafka_max_poll_interval_ms: int = setting(
        "VH_KAFKA_MAX_POLL_INTERVAL_MS",
        300_000,
        "longest gap between polls before eviction; also the rebalance timeout",
        minimum=1_000,
    )
    # ~1 insert per second per worker at tens of thousands of events per second.
    batch_max_rows: int = setting(
        "VH_BATCH_MAX_ROWS", 20_000, "messages per partition batch before an insert", minimum=1
    )
    batch_max_seconds: float = setting(
        "VH_BATCH_MAX_SECONDS", 1.0, "age of a batch before an insert", minimum=0.0
    )
    max_poll_records: int = setting(
        "VH_MAX_POLL_RECORDS", 5_000, "messages per poll (bounds memory while paused)", minimum=1
    )
    metrics_port: int = setting(
        "VH_METRICS_PORT", 9464, "Prometheus endpoint of the worker; 0 disables", minimum=0
    )
    dlq_max_ratio: float = setting(
        "VH_DLQ_MAX_RATIO",
        0.5,
        "share of dead letters in the window that stops the worker; >= 1 disables",
        minimum=0.0,
    )
    dlq_window: int = setting(
        "VH_DLQ_WINDOW", 1_000, "recent messages per partition for that ratio", minimum=1
    )
    dlq_max_attempts: int = setting(
        "VH_DLQ_MAX_ATTEMPTS",
        10,
        "the same dead letter refused this often: stop (exit 4)",
        minimum=1,
    )
    retention_days: int = setting(
        "VH_RETENTION_DAYS",
        0,
        "keep visits this many days (TTL, or partition drops on old servers); 0 = forever",
        minimum=0,
    )
    retention_check_seconds: float = setting(
        "VH_RETENTION_CHECK_SECONDS",
        3_600.0,
        "how often partitions are dropped on servers without TTL",
        minimum=1.0,
    )
    erasure_refresh_seconds: float = setting(
        "VH_ERASURE_REFRESH_SECONDS",
        5.0,
        "staleness of the worker's erasure snapshot",
        minimum=0.0,
    )
    retry_initial_seconds: float = setting(
        "VH_RETRY_INITIAL_SECONDS", 0.5, "first insert retry delay cap (full jitter)", minimum=0.0
    )
    retry_max_seconds: float = setting(
        "VH_RETRY_MAX_SECONDS", 30.0, "largest insert retry delay cap", minimum=0.0
    )
    startup_timeout_seconds: float = setting(
        "VH_STARTUP_TIMEOUT_SECONDS",
        60.0,
        "how long a starting worker retries Kafka and ClickHouse before it exits (1)",
        minimum=0.0,
    )

    @classmethod
    def from_env(cls, environ: Mapping[str, str]) -> IngestConfig:
        """Build the settings from ``environ`` (pass ``os.environ`` in entry points).

        Raises:
            ConfigError: a set variable has an unusable value (names the variable).
        """
        config = env.load(cls, environ, error=ConfigError)
        session_ms = config.kafka_session_timeout_ms
        if not env.is_set(environ, "VH_KAFKA_HEARTBEAT_INTERVAL_MS"):
            config = replace(config, kafka_heartbeat_interval_ms=max(session_ms // 10, 100))
        if config.kafka_heartbeat_interval_ms * 3 > session_ms:
            raise ConfigError(
                "VH_KAFKA_HEARTBEAT_INTERVAL_MS",
                str(config.kafka_heartbeat_interval_ms),
                f"must be at most a third of VH_KAFKA_SESSION_TIMEOUT_MS ({session_ms})",
            )
        return config
