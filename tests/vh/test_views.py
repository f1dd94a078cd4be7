"""``vh views backfill`` on the real server: visits stored before the views existed end up in
the aggregates, with the same answers as the raw table, shown with a progress bar."""

from __future__ import annotations

from typing import Any

import pytest

from schemas.clickhouse import statements
from schemas.clickhouse.layout import Layout
from tests.support.analytics import (
    DAY_MS,
    START_MS,
    TENANT,
    Db,
    insert,
    make_visits,
    wait_for_mutations,
)
from tests.support.services import ClickHouseEndpoint
from vh.main import main


def test_backfill_fills_the_aggregates_from_old_visits(
    ch_client: Any,
    ch_database: str,
    clickhouse_endpoint: ClickHouseEndpoint,
    capsys: pytest.CaptureFixture[str],
) -> None:
    for view in ("traffic_daily_mv", "traffic_hourly_mv"):
        ch_client.execute(f"DROP TABLE {ch_database}.{view}")  # as before migration 031
    # 3 months of visits; number % 7 = 0 rows are delivered again in a second block.
    insert = (
        f"INSERT INTO {ch_database}.visits (tenant, visitor_id, timestamp_ms, request_id, time,"
        " country_code) SELECT 'acme', concat('v', toString(number % 13)), ts,"
        " concat('r', toString(number)), toDateTime(intDiv(ts, 1000), 'UTC'),"
        " ['GB', 'SE'][number % 2 + 1] FROM (SELECT number,"
        " 1767225600000 + number * 3000000 AS ts FROM system.numbers LIMIT 2500) {}"
    )
    ch_client.execute(insert.format(""))
    ch_client.execute(insert.format("WHERE number % 7 = 0"))
    assert ch_client.execute(f"SELECT count() FROM {ch_database}.traffic_daily") == [(0,)]
    environ = {
        "VH_CLICKHOUSE_HOST": clickhouse_endpoint.host,
        "VH_CLICKHOUSE_PORT": str(clickhouse_endpoint.port),
        "VH_CLICKHOUSE_DATABASE": ch_database,
    }
    assert main(["views", "backfill"], environ) == 0
    logged = capsys.readouterr().err  # not a TTY: the bar is JSON log lines
    assert f"visits counted into the aggregates [{'#' * 30}] {2500 + 358}/{2500 + 358} 100%" in (
        logged
    )
    view = ch_client.execute(
        "SELECT toString(day), value, uniqCombinedMerge(visits), uniqCombinedMerge(visitors)"
        f" FROM {ch_database}.traffic_daily WHERE dimension = 'country'"
        " GROUP BY day, value ORDER BY day, value"
    )
    raw = ch_client.execute(
        "SELECT toString(toDate(time)) AS d, country_code, uniqCombined(request_id),"
        " uniqCombined(visitor_id)"
        f" FROM {ch_database}.visits GROUP BY d, country_code ORDER BY d, country_code"
    )
    assert view == raw and len(raw) > 80  # ~87 days, 2 countries
    assert sum(r[2] for r in view) == 2500


def test_rebuild_repairs_days_an_erasure_left_counted(
    ch_client: Any, ch_database: str, clickhouse_endpoint: ClickHouseEndpoint
) -> None:
    """An erasure whose rebuild never ran (DELETE timed out after recording it): the erased
    visitor is still in the aggregates until ``vh views rebuild`` redoes the days."""
    db = Db(ch_client.execute, ch_database)
    rows = make_visits()
    insert(db, rows)
    layout = Layout(ch_database)
    at = START_MS + 10 * DAY_MS
    db.run(statements.record_erasure(layout, TENANT, "v2", at))
    for statement in statements.delete_erased(layout, TENANT, "v2", at):
        db.run(statement)  # ... and no aggregates.rebuild_days
    wait_for_mutations(db)
    daily = (
        f"SELECT toString(day), uniqCombinedMerge(visits) FROM {ch_database}.traffic_daily"
        f" WHERE tenant = '{TENANT}' AND dimension = 'all' GROUP BY day ORDER BY day"
    )
    raw = (
        f"SELECT toString(toDate(time)) AS d, uniqCombined(request_id) FROM {ch_database}.visits"
        f" WHERE tenant = '{TENANT}' GROUP BY d ORDER BY d"
    )
    assert ch_client.execute(daily) != ch_client.execute(raw)
    environ = {
        "VH_CLICKHOUSE_HOST": clickhouse_endpoint.host,
        "VH_CLICKHOUSE_PORT": str(clickhouse_endpoint.port),
        "VH_CLICKHOUSE_DATABASE": ch_database,
    }
    argv = ["views", "rebuild", "--tenant", TENANT, "--from", "2026-01-01", "--to", "2026-01-04"]
    assert main(argv, environ) == 0
    wait_for_mutations(db)
    assert ch_client.execute(daily) == ch_client.execute(raw)
    assert main(["views", "rebuild", "--tenant", TENANT], environ) == 2  # no days given


def test_migrate_refills_the_aggregates_a_migration_made_again(
    ch_client: Any, ch_database: str, clickhouse_endpoint: ClickHouseEndpoint
) -> None:
    """Migration 060 re-creates the aggregates empty (uniqCombined states); ``vh migrate``
    then counts the visits already stored back in, as ``vh views backfill`` would."""
    db = Db(ch_client.execute, ch_database)
    insert(db, make_visits())
    ch_client.execute(f"ALTER TABLE {ch_database}.schema_migrations DELETE WHERE version = 60")
    wait_for_mutations(db)
    environ = {
        "VH_CLICKHOUSE_HOST": clickhouse_endpoint.host,
        "VH_CLICKHOUSE_PORT": str(clickhouse_endpoint.port),
        "VH_CLICKHOUSE_DATABASE": ch_database,
    }
    assert main(["migrate"], environ) == 0
    daily = (
        f"SELECT toString(day), uniqCombinedMerge(visits), uniqCombinedMerge(visitors)"
        f" FROM {ch_database}.traffic_daily WHERE tenant = '{TENANT}' AND dimension = 'all'"
        " GROUP BY day ORDER BY day"
    )
    raw = (
        f"SELECT toString(toDate(time)) AS d, uniqCombined(request_id), uniqCombined(visitor_id)"
        f" FROM {ch_database}.visits WHERE tenant = '{TENANT}' GROUP BY d ORDER BY d"
    )
    assert ch_client.execute(daily) == ch_client.execute(raw) != []
    hourly = f"SELECT uniqCombinedMerge(visits) FROM {ch_database}.traffic_hourly"
    assert ch_client.execute(hourly) == ch_client.execute(
        f"SELECT uniqCombined(request_id) FROM {ch_database}.visits"
    )
