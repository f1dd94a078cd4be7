"""Migration bookkeeping with a scripted server (no services): idempotent runs, and a
migration needing a feature the server lacks runs once the server is upgraded in place."""

from __future__ import annotations

import re
from typing import Any

from schemas.clickhouse import migrations


class Server:
    """Answers version() and keeps schema_migrations; records every other statement."""

    def __init__(self, version: str) -> None:
        self.version = version
        self.recorded: list[int] = []
        self.statements: list[str] = []

    def execute(self, sql: str) -> list[tuple[Any, ...]]:
        if sql == "SELECT version()":
            return [(self.version,)]
        if re.match(r"SELECT version FROM \w+\.schema_migrations", sql):
            return [(v,) for v in self.recorded]
        insert = re.match(r"INSERT INTO \w+\.schema_migrations .*SELECT (\d+),", sql, re.S)
        if insert:
            self.recorded.append(int(insert.group(1)))
            return []
        self.statements.append(sql)
        return []


def _all_versions() -> list[int]:
    return [v for v, _, _ in migrations.discover()]


def test_a_second_run_applies_nothing() -> None:
    server = Server("24.8.1.1")
    assert migrations.apply(server.execute, "vh", log=lambda _m: None) == _all_versions()
    before = len(server.statements)
    assert migrations.apply(server.execute, "vh", log=lambda _m: None) == []
    assert len(server.statements) == before + 2  # CREATE DATABASE / TABLE IF NOT EXISTS only


def test_a_migration_the_server_cannot_run_waits_for_an_upgrade() -> None:
    server, lines = Server("18.16.1"), list[str]()
    applied = migrations.apply(server.execute, "vh", log=lines.append)
    assert 4 not in applied and 4 not in server.recorded
    assert not any("non_replicated_deduplication_window" in s for s in server.statements)
    assert any("skipping vh: 004_insert_dedup_window" in line and "lacks insert_dedup_token"
               in line for line in lines)  # fmt: skip
    # Still skipped while the server stays old; nothing else is re-run.
    assert migrations.apply(server.execute, "vh", log=lambda _m: None) == []
    server.version = "24.8.1.1"  # upgraded in place
    assert migrations.apply(server.execute, "vh", log=lambda _m: None) == [4]
    assert any(
        s == "ALTER TABLE vh.visits MODIFY SETTING non_replicated_deduplication_window = 1000"
        for s in server.statements
    )
    assert sorted(server.recorded) == _all_versions()


def test_only_a_migration_that_remade_the_aggregates_asks_for_their_refill() -> None:
    remade = [v for v, _, raw in migrations.discover() if "-- then: vh views backfill" in raw]
    assert remade == [60]
    assert migrations.refill_views(_all_versions()) and migrations.refill_views([60])
    assert not migrations.refill_views([v for v in _all_versions() if v != 60])
    assert not migrations.refill_views([])
