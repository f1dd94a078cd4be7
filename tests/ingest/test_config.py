"""IngestConfig reads an explicit environ once; bad values name their variable."""

from __future__ import annotations

import pytest

from ingest.config import IngestConfig
from ingest.errors import ConfigError


def test_defaults_match_the_local_stack() -> None:
    config = IngestConfig.from_env({})
    assert config == IngestConfig()
    assert (config.kafka_bootstrap, config.topic, config.dlq_topic, config.group) == (
        "127.0.0.1:19092",
        "visits.raw",
        "visits.dlq",
        "visit-history-ingest",
    )
    assert config.clickhouse.endpoint == "127.0.0.1:19000"
    assert config.clickhouse.database == "visit_history" and config.retention_days == 0


def test_values_from_environ() -> None:
    config = IngestConfig.from_env(
        {
            "VH_KAFKA_TOPIC": "t",
            "VH_CLICKHOUSE_PORT": "9000",
            "VH_BATCH_MAX_ROWS": "10",
            "VH_BATCH_MAX_SECONDS": "0.5",
            "VH_METRICS_PORT": "0",
            "VH_DLQ_MAX_RATIO": "0.9",
            "VH_RETENTION_DAYS": "30",
            "VH_CLICKHOUSE_PASSWORD": " s3cret ",
        }
    )
    assert (config.topic, config.clickhouse.port, config.batch_max_rows) == ("t", 9000, 10)
    assert (config.batch_max_seconds, config.metrics_port, config.dlq_max_ratio) == (0.5, 0, 0.9)
    assert config.retention_days == 30 and config.clickhouse.password == " s3cret "


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("VH_BATCH_MAX_ROWS", "0"),
        ("VH_BATCH_MAX_ROWS", "many"),
        ("VH_CLICKHOUSE_PORT", "x"),
        ("VH_BATCH_MAX_SECONDS", "nan"),
        ("VH_RETENTION_DAYS", "-1"),
        # Spliced into SQL text: the worker refuses what the API refuses.
        ("VH_CLICKHOUSE_DATABASE", "visits-db"),
    ],
)
def test_bad_values_name_the_variable(name: str, value: str) -> None:
    with pytest.raises(ConfigError) as info:
        IngestConfig.from_env({name: value})
    assert info.value.name == name and name in str(info.value)


def test_group_membership_timings() -> None:
    default = IngestConfig.from_env({})
    assert (
        default.kafka_session_timeout_ms,
        default.kafka_heartbeat_interval_ms,
        default.kafka_max_poll_interval_ms,
    ) == (30_000, 3_000, 300_000)
    short = IngestConfig.from_env({"VH_KAFKA_SESSION_TIMEOUT_MS": "6000"})
    # The heartbeat follows the session (a tenth of it) unless set.
    assert (short.kafka_session_timeout_ms, short.kafka_heartbeat_interval_ms) == (6_000, 600)
    explicit = IngestConfig.from_env(
        {
            "VH_KAFKA_SESSION_TIMEOUT_MS": "6000",
            "VH_KAFKA_HEARTBEAT_INTERVAL_MS": "1000",
            "VH_KAFKA_MAX_POLL_INTERVAL_MS": "60000",
        }
    )
    assert (explicit.kafka_heartbeat_interval_ms, explicit.kafka_max_poll_interval_ms) == (
        1_000,
        60_000,
    )
    with pytest.raises(ConfigError) as err:
        IngestConfig.from_env(
            {"VH_KAFKA_SESSION_TIMEOUT_MS": "6000", "VH_KAFKA_HEARTBEAT_INTERVAL_MS": "3000"}
        )
    assert err.value.name == "VH_KAFKA_HEARTBEAT_INTERVAL_MS"
