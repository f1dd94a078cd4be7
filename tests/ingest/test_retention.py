"""Retention: which monthly partitions go, and the drop itself on the 18.16 server."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from ingest import retention
from ingest.writer import ClickHouseWriter
from tests.support.services import ClickHouseEndpoint

NOW = datetime(2026, 5, 15, 12, 0, tzinfo=UTC)


def test_only_months_wholly_before_the_cutoff_are_dropped() -> None:
    parts = ["202601", "202602", "202603", "202604", "202605", "tuple()"]
    # 60 days before 2026-05-15 is 2026-03-16: March still holds younger visits.
    assert retention.partitions_to_drop(parts, 60, NOW) == ["202601", "202602"]
    assert retention.partitions_to_drop(parts, 0, NOW) == []
    assert retention.partitions_to_drop(parts, 1, NOW) == ["202601", "202602", "202603", "202604"]


def test_enforce_drops_old_partitions_or_sets_ttl(
    clickhouse_endpoint: ClickHouseEndpoint, ch_database: str, ch_client: Any
) -> None:
    ch_client.execute(
        f"INSERT INTO {ch_database}.visits (tenant, visitor_id, timestamp_ms, request_id, time)"
        " VALUES",
        [
            ("acme", "v", ts * 1000, f"r{ts}", ts)
            for ts in (
                int(datetime(2026, 1, 10, tzinfo=UTC).timestamp()),
                int(datetime(2026, 4, 10, tzinfo=UTC).timestamp()),
            )
        ],
    )
    with ClickHouseWriter(
        clickhouse_endpoint.host, clickhouse_endpoint.port, database=ch_database
    ) as writer:
        done = retention.enforce(writer, 60, NOW)
        if writer.features().ttl:
            assert done == "TTL set to 60 days"
            for table in ("visits", "event_index"):
                (engine,) = ch_client.execute(
                    "SELECT engine_full FROM system.tables WHERE database = %(db)s"
                    " AND name = %(t)s",
                    {"db": ch_database, "t": table},
                )[0]
                assert " TTL " in engine, table
            assert retention.enforce(writer, 60, NOW) == "TTL already 60 days"
            return
        assert done == "dropped partitions ['202601']"
        assert retention.enforce(writer, 60, NOW) == "no partition to drop"
    kept = f"r{int(datetime(2026, 4, 10, tzinfo=UTC).timestamp())}"
    assert ch_client.execute(f"SELECT request_id FROM {ch_database}.visits") == [(kept,)]
    # v4's search index went with them: no index row of a dropped visit is left.
    assert ch_client.execute(f"SELECT DISTINCT request_id FROM {ch_database}.event_index") == [
        (kept,)
    ]
