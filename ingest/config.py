"""Worker settings, read once at start-up from the environment into a frozen object."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import TypeVar

from ingest.errors import ConfigError

_T = TypeVar("_T", int, float)


def _number(
    environ: Mapping[str, str], name: str, default: _T, kind: Callable[[str], _T], low: _T
) -> _T:
    raw = environ.get(name)
    if raw is None or raw.strip() == "":
        return default
    try:
        value = kind(raw.strip())
    except ValueError:
        raise ConfigError(name, raw, f"not {'an integer' if kind is int else 'a number'}") from None
    if not value >= low:  # also rejects NaN
        raise ConfigError(name, raw, f"must be >= {low}")
    return value


def _text(environ: Mapping[str, str], name: str, default: str) -> str:
    raw = environ.get(name)
    return default if raw is None or raw.strip() == "" else raw.strip()


@dataclass(frozen=True, slots=True)
class IngestConfig:
    """Everything the worker, `migrate`, `replay` and `retention` need (docs/ingest.md).

    Attributes mirror the ``VH_*`` variables; defaults work against the local stack.
    """

    kafka_bootstrap: str = "127.0.0.1:19092"
    topic: str = "visits.raw"
    dlq_topic: str = "visits.dlq"
    group: str = "visit-history-ingest"
    clickhouse_host: str = "127.0.0.1"
    clickhouse_port: int = 19000
    clickhouse_user: str = "default"
    clickhouse_password: str = ""
    clickhouse_database: str = "visit_history"
    # ~1 insert per second per worker at tens of thousands of events per second.
    batch_max_rows: int = 20_000
    batch_max_seconds: float = 1.0
    max_poll_records: int = 5_000
    metrics_port: int = 9464  # 0: no metrics endpoint
    dlq_max_ratio: float = 0.5  # >= 1: guard disabled
    dlq_window: int = 1_000
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
        session_ms = _number(
            environ, "VH_KAFKA_SESSION_TIMEOUT_MS", d.kafka_session_timeout_ms, int, 1_000
        )
        # Kafka wants heartbeats well inside the session: default a tenth of it (3 s of 30 s).
        heartbeat_ms = _number(
            environ, "VH_KAFKA_HEARTBEAT_INTERVAL_MS", max(session_ms // 10, 100), int, 100
        )
        if heartbeat_ms * 3 > session_ms:
            raise ConfigError(
                "VH_KAFKA_HEARTBEAT_INTERVAL_MS",
                str(heartbeat_ms),
                f"must be at most a third of VH_KAFKA_SESSION_TIMEOUT_MS ({session_ms})",
            )
        return cls(
            kafka_bootstrap=_text(environ, "VH_KAFKA_BOOTSTRAP", d.kafka_bootstrap),
            topic=_text(environ, "VH_KAFKA_TOPIC", d.topic),
            dlq_topic=_text(environ, "VH_KAFKA_DLQ_TOPIC", d.dlq_topic),
            group=_text(environ, "VH_KAFKA_GROUP", d.group),
            clickhouse_host=_text(environ, "VH_CLICKHOUSE_HOST", d.clickhouse_host),
            clickhouse_port=_number(environ, "VH_CLICKHOUSE_PORT", d.clickhouse_port, int, 1),
            clickhouse_user=_text(environ, "VH_CLICKHOUSE_USER", d.clickhouse_user),
            # A password may legitimately be blank or have edge spaces: taken verbatim.
            clickhouse_password=environ.get("VH_CLICKHOUSE_PASSWORD", d.clickhouse_password),
            clickhouse_database=_text(environ, "VH_CLICKHOUSE_DATABASE", d.clickhouse_database),
            batch_max_rows=_number(environ, "VH_BATCH_MAX_ROWS", d.batch_max_rows, int, 1),
            batch_max_seconds=_number(
                environ, "VH_BATCH_MAX_SECONDS", d.batch_max_seconds, float, 0.0
            ),
            max_poll_records=_number(environ, "VH_MAX_POLL_RECORDS", d.max_poll_records, int, 1),
            metrics_port=_number(environ, "VH_METRICS_PORT", d.metrics_port, int, 0),
            dlq_max_ratio=_number(environ, "VH_DLQ_MAX_RATIO", d.dlq_max_ratio, float, 0.0),
            dlq_window=_number(environ, "VH_DLQ_WINDOW", d.dlq_window, int, 1),
            retention_days=_number(environ, "VH_RETENTION_DAYS", d.retention_days, int, 0),
            retention_check_seconds=_number(
                environ, "VH_RETENTION_CHECK_SECONDS", d.retention_check_seconds, float, 1.0
            ),
            erasure_refresh_seconds=_number(
                environ, "VH_ERASURE_REFRESH_SECONDS", d.erasure_refresh_seconds, float, 0.0
            ),
            retry_initial_seconds=_number(
                environ, "VH_RETRY_INITIAL_SECONDS", d.retry_initial_seconds, float, 0.0
            ),
            retry_max_seconds=_number(
                environ, "VH_RETRY_MAX_SECONDS", d.retry_max_seconds, float, 0.0
            ),
            kafka_session_timeout_ms=session_ms,
            kafka_heartbeat_interval_ms=heartbeat_ms,
            kafka_max_poll_interval_ms=_number(
                environ, "VH_KAFKA_MAX_POLL_INTERVAL_MS", d.kafka_max_poll_interval_ms, int, 1_000
            ),
        )
