"""Worker settings, read once at start-up from the environment into a frozen object."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from ingest.errors import ConfigError
from schemas import env

# Defaults of the VH_CLICKHOUSE_* fields: one place for the worker and the API (schemas.env).
_CLICKHOUSE = env.ClickHouseSettings()


@dataclass(frozen=True, slots=True)
class IngestConfig:
    """Everything the worker, `migrate`, `replay` and `retention` need (docs/ingest.md).

    Attributes mirror the ``VH_*`` variables; defaults work against the local stack.
    """

    kafka_bootstrap: str = "127.0.0.1:19092"
    topic: str = "visits.raw"
    dlq_topic: str = "visits.dlq"
    group: str = "visit-history-ingest"
    clickhouse_host: str = _CLICKHOUSE.host
    clickhouse_port: int = _CLICKHOUSE.port
    clickhouse_user: str = _CLICKHOUSE.user
    clickhouse_password: str = _CLICKHOUSE.password
    clickhouse_database: str = _CLICKHOUSE.database
    # ~1 insert per second per worker at tens of thousands of events per second.
    batch_max_rows: int = 20_000
    batch_max_seconds: float = 1.0
    max_poll_records: int = 5_000
    metrics_port: int = 9464  # 0: no metrics endpoint
    dlq_max_ratio: float = 0.5  # >= 1: guard disabled
    dlq_window: int = 1_000
    dlq_max_attempts: int = 10  # the same dead letter refused this often: stop (exit 4)
    retention_days: int = 0  # 0: keep forever
    retention_check_seconds: float = 3_600.0
    erasure_refresh_seconds: float = 5.0
    retry_initial_seconds: float = 0.5
    retry_max_seconds: float = 30.0
    # Group membership. A member that dies without leaving (kill -9, power loss) keeps its
    # partitions until the session times out; the broker accepts 6 s to 5 min by default.
    kafka_session_timeout_ms: int = 30_000
    kafka_heartbeat_interval_ms: int = 3_000
    kafka_max_poll_interval_ms: int = 300_000

    @property
    def clickhouse_endpoint(self) -> str:
        return f"{self.clickhouse_host}:{self.clickhouse_port}"

    @classmethod
    def from_env(cls, environ: Mapping[str, str]) -> IngestConfig:
        """Build the settings from ``environ`` (pass ``os.environ`` in entry points).

        Raises:
            ConfigError: a set variable has an unusable value (names the variable).
        """
        d = cls()
        ch = env.clickhouse(environ, error=ConfigError)
        session_ms = env.integer(
            environ,
            "VH_KAFKA_SESSION_TIMEOUT_MS",
            d.kafka_session_timeout_ms,
            minimum=1_000,
            error=ConfigError,
        )
        # Kafka wants heartbeats well inside the session: default a tenth of it (3 s of 30 s).
        heartbeat_ms = env.integer(
            environ,
            "VH_KAFKA_HEARTBEAT_INTERVAL_MS",
            max(session_ms // 10, 100),
            minimum=100,
            error=ConfigError,
        )
        if heartbeat_ms * 3 > session_ms:
            raise ConfigError(
                "VH_KAFKA_HEARTBEAT_INTERVAL_MS",
                str(heartbeat_ms),
                f"must be at most a third of VH_KAFKA_SESSION_TIMEOUT_MS ({session_ms})",
            )
        return cls(
            kafka_bootstrap=env.text(environ, "VH_KAFKA_BOOTSTRAP", d.kafka_bootstrap),
            topic=env.text(environ, "VH_KAFKA_TOPIC", d.topic),
            dlq_topic=env.text(environ, "VH_KAFKA_DLQ_TOPIC", d.dlq_topic),
            group=env.text(environ, "VH_KAFKA_GROUP", d.group),
            clickhouse_host=ch.host,
            clickhouse_port=ch.port,
            clickhouse_user=ch.user,
            clickhouse_password=ch.password,
            clickhouse_database=ch.database,
            batch_max_rows=env.integer(
                environ, "VH_BATCH_MAX_ROWS", d.batch_max_rows, minimum=1, error=ConfigError
            ),
            batch_max_seconds=env.number(
                environ, "VH_BATCH_MAX_SECONDS", d.batch_max_seconds, minimum=0.0, error=ConfigError
            ),
            max_poll_records=env.integer(
                environ, "VH_MAX_POLL_RECORDS", d.max_poll_records, minimum=1, error=ConfigError
            ),
            metrics_port=env.integer(
                environ, "VH_METRICS_PORT", d.metrics_port, minimum=0, error=ConfigError
            ),
            dlq_max_ratio=env.number(
                environ, "VH_DLQ_MAX_RATIO", d.dlq_max_ratio, minimum=0.0, error=ConfigError
            ),
            dlq_window=env.integer(
                environ, "VH_DLQ_WINDOW", d.dlq_window, minimum=1, error=ConfigError
            ),
            dlq_max_attempts=env.integer(
                environ, "VH_DLQ_MAX_ATTEMPTS", d.dlq_max_attempts, minimum=1, error=ConfigError
            ),
            retention_days=env.integer(
                environ, "VH_RETENTION_DAYS", d.retention_days, minimum=0, error=ConfigError
            ),
            retention_check_seconds=env.number(
                environ,
                "VH_RETENTION_CHECK_SECONDS",
                d.retention_check_seconds,
                minimum=1.0,
                error=ConfigError,
            ),
            erasure_refresh_seconds=env.number(
                environ,
                "VH_ERASURE_REFRESH_SECONDS",
                d.erasure_refresh_seconds,
                minimum=0.0,
                error=ConfigError,
            ),
            retry_initial_seconds=env.number(
                environ,
                "VH_RETRY_INITIAL_SECONDS",
                d.retry_initial_seconds,
                minimum=0.0,
                error=ConfigError,
            ),
            retry_max_seconds=env.number(
                environ, "VH_RETRY_MAX_SECONDS", d.retry_max_seconds, minimum=0.0, error=ConfigError
            ),
            kafka_session_timeout_ms=session_ms,
            kafka_heartbeat_interval_ms=heartbeat_ms,
            kafka_max_poll_interval_ms=env.integer(
                environ,
                "VH_KAFKA_MAX_POLL_INTERVAL_MS",
                d.kafka_max_poll_interval_ms,
                minimum=1_000,
                error=ConfigError,
            ),
        )
