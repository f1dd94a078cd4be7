"""Test data for the analysts' SQL: visits with duplicates inserted on 18.16 or chdb, and an
erasure run as DELETE /visitors runs it."""

from __future__ import annotations

import random
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import pytest

from schemas.clickhouse import aggregates, migrations, statements
from schemas.clickhouse.layout import Layout
from tests.support.services import ChdbSession, ClickHouseEndpoint

Execute = Callable[..., list[tuple[Any, ...]]]
DAY_MS = 86_400_000
START_MS = 1_767_225_600_000  # 2026-01-01T00:00:00Z
TENANT = "acme"


@dataclass
class Db:
    execute: Execute
    name: str

    def run(self, statement: statements.Statement) -> list[tuple[Any, ...]]:
        return self.execute(statement.sql, statement.params)


def engine_db(request: pytest.FixtureRequest, engine: str) -> Iterator[Db]:
    """A migrated database on ``engine`` (18.16: the server; chdb), dropped afterwards."""
    name = f"vh_agg_{uuid.uuid4().hex[:8]}"
    if engine == "chdb":
        session: ChdbSession = request.getfixturevalue("chdb_session")
        execute: Execute = session.execute
    else:
        endpoint: ClickHouseEndpoint = request.getfixturevalue("clickhouse_endpoint")
        client = endpoint.client()
        request.addfinalizer(client.disconnect)
        execute = client.execute
    migrations.apply(execute, name, log=lambda _m: None)
    yield Db(execute, name)
    execute(f"DROP DATABASE IF EXISTS {name}")


def make_visits(seed: int = 5, n: int = 240) -> list[dict[str, Any]]:
    """Visits of 12 visitors over 4 days, some bots and incognito, with one country unknown."""
    rng = random.Random(seed)
    out = []
    for i in range(n):
        visitor = f"v{rng.randrange(12)}"
        ts = START_MS + rng.randrange(4 * DAY_MS)
        out.append(
            {
                "tenant": TENANT if i % 10 else "other",
                "visitor_id": visitor,
                "timestamp_ms": ts,
                "request_id": f"r{i}",
                "incognito": int(rng.random() < 0.2),
                "bot_probability": 0.9 if visitor == "v3" else 0.0,
                "browser_name": ["Chrome", "Firefox", "Safari"][int(visitor[1:]) % 3],
                "os": ["Windows", "iOS"][int(visitor[1:]) % 2],
                "device": ["Other", "iPhone"][int(visitor[1:]) % 2],
                # v9 roams: another country and address on every visit (the fraud signals)
                "country_code": ["GB", "SE", "US"][i % 3]
                if visitor == "v9"
                else [None, "GB", "SE", "US"][int(visitor[1:]) % 4],
                "ip": f"10.9.0.{i % 250}" if visitor == "v9" else f"10.0.0.{visitor[1:]}",
                # one account used from three browsers (account sharing)
                "linked_id": "acct-1" if visitor in ("v1", "v2", "v7") else None,
                # the bot v3 comes from a hosting network; the others from two ISPs
                "asn": 64500 if visitor == "v3" else 64496 + int(visitor[1:]) % 2,
                "asn_name": "Hosting" if visitor == "v3" else f"ISP {int(visitor[1:]) % 2}",
            }
        )
    return out


def _literal(value: Any) -> str:
    if value is None:
        return "NULL"
    if isinstance(value, str):
        return "'" + value.replace("\\", "\\\\").replace("'", "\\'") + "'"
    return repr(value)


def insert(db: Db, rows: list[dict[str, Any]]) -> None:
    """One insert block (the views see it as one), as INSERT ... SELECT (both engines)."""
    selects = ["SELECT " + ", ".join(f"{_literal(v)} AS {k}" for k, v in r.items()) for r in rows]
    columns = ", ".join(rows[0])
    db.execute(
        f"INSERT INTO {db.name}.visits ({columns}, time) SELECT {columns},"
        f" toDateTime(intDiv(timestamp_ms, 1000), 'UTC') FROM ({' UNION ALL '.join(selects)})"
    )


def wait_for_mutations(db: Db) -> None:
    deadline = time.monotonic() + 60
    while db.execute(
        f"SELECT count() FROM system.mutations WHERE database = '{db.name}' AND is_done = 0"
    )[0][0]:
        assert time.monotonic() < deadline, "mutations did not finish in 60 s"
        time.sleep(0.1)


def erase(db: Db, visitor: str, at_ms: int) -> None:
    """What DELETE /visitors/<id> runs, in its order."""
    layout = Layout(db.name)
    days = [str(r[0]) for r in db.run(aggregates.erased_days(layout, TENANT, visitor, at_ms))]
    db.run(statements.record_erasure(layout, TENANT, visitor, at_ms))
    for statement in statements.delete_erased(layout, TENANT, visitor, at_ms):
        db.run(statement)
    for statement in aggregates.rebuild_days(layout, TENANT, days, visitor):
        db.run(statement)
