"""The schema, the worker's rows and the API's visit query on the current engine (chdb)."""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import pytest

from enrich.enricher import Enricher
from ingest import retention
from ingest.processor import VisitProcessor
from ingest.rows import COLUMNS, KafkaCoordinates, Row
from schemas.clickhouse import migrations
from schemas.clickhouse.layout import Layout
from tests.support.ingest import API_QUERY, ENRICH, NOW_MS, raw_event
from tests.support.services import ChdbSession


@pytest.fixture
def chdb_db(chdb_session: ChdbSession) -> Iterator[str]:
    name = f"vh_chdb_{uuid.uuid4().hex[:8]}"
    migrations.apply(chdb_session.execute, name, log=lambda _m: None)
    yield name
    chdb_session.execute(f"DROP DATABASE IF EXISTS {name}")


def _rows(values: list[bytes]) -> list[Row]:
    with Enricher.from_config(ENRICH) as enricher:
        processor = VisitProcessor(enricher, millisecond_time=True)
        return [
            processor.process(
                v, KafkaCoordinates("visits.raw", 0, i), now_ms=NOW_MS, ingested_at_s=NOW_MS // 1000
            )
            for i, v in enumerate(values)
        ]


def _insert(session: ChdbSession, db: str, rows: list[Row]) -> None:
    """What the writer sends, as JSONEachRow; DateTime64 given as text with milliseconds."""
    lines = []
    for row in rows:
        record = dict(zip(COLUMNS, row, strict=True))
        record["time"] = datetime.fromtimestamp(record["time"] / 1000, UTC).strftime(
            "%Y-%m-%d %H:%M:%S.%f"
        )[:-3]
        record["ingested_at"] = datetime.fromtimestamp(record["ingested_at"], UTC).strftime(
            "%Y-%m-%d %H:%M:%S"
        )
        lines.append(json.dumps(record))
    session.execute(f"INSERT INTO {db}.visits FORMAT JSONEachRow " + "\n".join(lines))


def _literal(value: Any) -> str:
    return str(value) if isinstance(value, int) else "'" + str(value).replace("'", "\\'") + "'"


def test_schema_rows_and_api_query_on_current_clickhouse(
    chdb_session: ChdbSession, chdb_db: str
) -> None:
    described = tuple(r[0] for r in chdb_session.execute(f"DESCRIBE TABLE {chdb_db}.visits"))
    assert described == COLUMNS
    rows = _rows([raw_event("a", timestamp=NOW_MS - 2), raw_event("b", timestamp=NOW_MS - 1)])
    _insert(chdb_session, chdb_db, rows)
    _insert(chdb_session, chdb_db, rows[:1])  # "a" redelivered, another insert block
    params = {"t": "acme", "v": "visitor-1", "lo": NOW_MS - 10, "hi": NOW_MS, "n": 10}
    sql = API_QUERY.format(db=chdb_db) % {k: _literal(v) for k, v in params.items()}
    page = chdb_session.execute(sql)
    assert [r[0] for r in page] == ["b", "a"]
    assert tuple(page[0][2:]) == ("81.2.69.160", "London")
    stored_time = chdb_session.execute(
        f"SELECT toUnixTimestamp64Milli(time) FROM {chdb_db}.visits WHERE request_id = 'b' LIMIT 1"
    )
    assert int(stored_time[0][0]) == NOW_MS - 1
    summary = chdb_session.execute(
        f"SELECT minMerge(first_seen), maxMerge(last_seen), uniqMerge(visits) "
        f"FROM {chdb_db}.visitor_summary WHERE tenant = 'acme' AND visitor_id = 'visitor-1'"
    )
    assert [int(v) for v in summary[0]] == [NOW_MS - 2, NOW_MS - 1, 2]


def test_insert_dedup_token_drops_a_retried_block(chdb_session: ChdbSession, chdb_db: str) -> None:
    rows = _rows([raw_event("t1")])
    try:
        for _ in range(2):
            chdb_session.execute("SET insert_deduplication_token = 'raw-0-0-0'")
            _insert(chdb_session, chdb_db, rows)
    finally:  # the chdb session is shared by the whole test session
        chdb_session.execute("SET insert_deduplication_token = ''")
    count = chdb_session.execute(f"SELECT count() FROM {chdb_db}.visits")
    assert int(count[0][0]) == 1  # without FINAL or LIMIT BY: the server dropped the retry


def test_ttl_is_applied_idempotently_and_removed(chdb_session: ChdbSession, chdb_db: str) -> None:
    execute = chdb_session.execute
    assert retention.apply_ttl(execute, Layout(chdb_db), 30) == "TTL set to 30 days"
    assert retention.apply_ttl(execute, Layout(chdb_db), 30) == "TTL already 30 days"
    assert retention.apply_ttl(execute, Layout(chdb_db), 7) == "TTL set to 7 days"
    engine = execute(
        f"SELECT engine_full FROM system.tables WHERE database = '{chdb_db}' AND name = 'visits'"
    )[0][0]
    assert "TTL toDateTime(time) + toIntervalDay(7)" in engine
    index = execute(
        f"SELECT engine_full FROM system.tables WHERE database = '{chdb_db}'"
        " AND name = 'event_index'"
    )[0][0]
    assert "TTL toDateTime(intDiv(timestamp_ms, 1000)) + toIntervalDay(7)" in index
    assert retention.apply_ttl(execute, Layout(chdb_db), 0) == "TTL removed (keep forever)"
    assert retention.apply_ttl(execute, Layout(chdb_db), 0) == "no TTL (keep forever)"
