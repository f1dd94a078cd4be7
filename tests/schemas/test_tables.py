"""The vocabulary (``schemas.clickhouse.tables``) is the migrations' truth: every table it
declares exists with exactly those columns, in DDL order, on 18.16 and on the current
engine, and the migrations create no table it does not declare."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from typing import Any

from schemas.clickhouse import migrations
from schemas.clickhouse.tables import TABLES
from tests.support.services import ChdbSession


def _tables(execute: Callable[..., Any], db: str) -> dict[str, tuple[str, ...]]:
    """Columns of every plain table (views left out) in ``db``, in DDL order."""
    out: dict[str, tuple[str, ...]] = {}
    kinds = execute(f"SELECT name, engine FROM system.tables WHERE database = '{db}'")
    for name, engine in kinds:
        if str(engine) in ("MaterializedView", "View"):
            continue
        out[str(name)] = tuple(str(r[0]) for r in execute(f"DESCRIBE TABLE {db}.{name}"))
    return out


DECLARED = {t.name: t.columns for t in TABLES}


def test_the_server_has_the_declared_tables_and_columns(ch_client: Any, ch_database: str) -> None:
    assert _tables(ch_client.execute, ch_database) == DECLARED


def test_the_current_engine_has_the_declared_tables_and_columns(
    chdb_session: ChdbSession,
) -> None:
    db = f"vh_tables_{uuid.uuid4().hex[:8]}"
    migrations.apply(chdb_session.execute, db, log=lambda _m: None)
    try:
        assert _tables(chdb_session.execute, db) == DECLARED
    finally:
        chdb_session.execute(f"DROP DATABASE IF EXISTS {db}")
