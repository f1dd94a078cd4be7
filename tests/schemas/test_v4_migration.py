"""Migrations 012-014 on a database that already holds visits: the old rows read the v4
columns' defaults (bot from what they have), on 18.16 and on the current engine."""

from __future__ import annotations

import shutil
import uuid
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import pytest

from schemas.clickhouse import migrations
from tests.support.services import ChdbSession, ClickHouseEndpoint

Execute = Callable[[str], Sequence[tuple[Any, ...]]]


def _check(execute: Execute, tmp_path: Path) -> None:
    database = f"vh_v4mig_{uuid.uuid4().hex[:8]}"
    before = tmp_path / "before"
    before.mkdir()
    for path in migrations.HERE.glob("*.sql"):
        if int(path.name[:3]) < 12:
            shutil.copy(path, before / path.name)
    try:
        migrations.apply(execute, database, log=lambda _m: None, directory=before)
        # INSERT ... SELECT: clickhouse-driver sends VALUES data apart from the query text.
        execute(
            f"INSERT INTO {database}.visits (tenant, visitor_id, timestamp_ms, request_id, time,"
            " url, ip, incognito, tag, bot_probability, device, ingested_at)"
            " SELECT 't', 'v', ts, rid, toDateTime(intDiv(ts, 1000)), 'u', '10.0.0.1', 0, '{}',"
            " p, d, now() FROM (SELECT arrayJoin([(toUInt64(1714550400000), 'human',"
            " toFloat32(0), 'Other'), (toUInt64(1714550400001), 'crawler', toFloat32(1), 'Spider'),"
            " (toUInt64(1714550400002), 'probable', toFloat32(0.9), 'Other')]) AS x,"
            " x.1 AS ts, x.2 AS rid, x.3 AS p, x.4 AS d)"
        )
        # 12-15 are v4's; later ones (the analysts' 03x) follow them.
        assert migrations.apply(execute, database, log=lambda _m: None)[:4] == [12, 13, 14, 15]
        rows = execute(
            f"SELECT request_id, bot, origin, client_referrer, asn, sdk_platform, geoip_build,"
            f" ua_rules FROM {database}.visits ORDER BY request_id"
        )
        assert [tuple(r) for r in rows] == [
            ("crawler", "good", "", None, 0, "", 0, ""),
            ("human", "not_detected", "", None, 0, "", 0, ""),
            ("probable", "bad", "", None, 0, "", 0, ""),
        ]
        # 015 indexed them for v4's searches (no IP path: old rows have no ip_key).
        index = execute(
            f"SELECT access, count() FROM {database}.event_index GROUP BY access ORDER BY access"
        )
        assert [(str(a), int(n)) for a, n in index] == [("t", 3), ("u", 3), ("v", 3)]
    finally:
        execute(f"DROP DATABASE IF EXISTS {database}")


@pytest.mark.clickhouse
def test_existing_visits_migrate_with_defaults_on_the_server(
    clickhouse_endpoint: ClickHouseEndpoint, tmp_path: Path
) -> None:
    client = clickhouse_endpoint.client()
    try:
        _check(client.execute, tmp_path)
    finally:
        client.disconnect()


@pytest.mark.chdb
def test_existing_visits_migrate_with_defaults_on_chdb(
    chdb_session: ChdbSession, tmp_path: Path
) -> None:
    _check(chdb_session.execute, tmp_path)
