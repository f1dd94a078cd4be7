"""The analysts' questions (docs/analytics.md) on 18.16 and the current engine: each runs, the
aggregates give the raw table's rows, and the answers are the ones the data was built with
(redelivered copies and an erasure included)."""

from __future__ import annotations

import itertools
from collections.abc import Iterator
from typing import Any

import pytest

from schemas.clickhouse import questions
from schemas.clickhouse.layout import Layout
from tests.support.analytics import (
    DAY_MS,
    START_MS,
    TENANT,
    Db,
    engine_db,
    erase,
    insert,
    make_visits,
    wait_for_mutations,
)

PARAMS = {"tenant": TENANT, "start": "2026-01-01", "end": "2026-01-04", "least": 2}
ERASED, ERASED_AT = "v4", START_MS + DAY_MS


@pytest.fixture(params=["18.16", "chdb"], scope="module")
def answered(request: pytest.FixtureRequest) -> Iterator[tuple[Db, list[dict[str, Any]]]]:
    """One database per engine for the module: visits, copies of 60 of them, an erasure."""
    for db in engine_db(request, request.param):
        rows = make_visits()
        insert(db, rows)
        insert(db, rows[30:90])
        erase(db, ERASED, ERASED_AT)
        wait_for_mutations(db)
        left = [
            r
            for r in rows
            if r["tenant"] == TENANT
            and not (r["visitor_id"] == ERASED and r["timestamp_ms"] <= ERASED_AT)
        ]
        yield db, left


def _ask(db: Db, key: str, **extra: Any) -> list[tuple[Any, ...]]:
    """The raw answer, after checking the aggregates' answer is the same rows."""
    out = []
    for statement in questions.BY_KEY[key].statements(Layout(db.name), {**PARAMS, **extra}):
        out.append([tuple(row) for row in db.run(statement)])
    assert all(o == out[0] for o in out), f"{key}: views and raw visits differ"
    return out[0]


@pytest.mark.parametrize("key", [q.key for q in questions.QUESTIONS])
def test_every_question_runs_and_views_agree_with_raw(
    answered: tuple[Db, list[dict[str, Any]]], key: str
) -> None:
    db, _left = answered
    rows = _ask(db, key, visitor="v0")
    assert rows or key not in ("daily", "sessions", "country_share", "hourly")


def test_traffic_counts_each_surviving_visit_once(
    answered: tuple[Db, list[dict[str, Any]]],
) -> None:
    db, left = answered
    daily = _ask(db, "daily")
    assert len(daily) == 4
    assert sum(int(r[1]) for r in daily) == len(left)
    new = _ask(db, "new_vs_returning")
    assert sum(int(r[2]) for r in new) == len({r["visitor_id"] for r in left})
    assert int(new[0][3]) == 0  # the first day: everybody is new


def test_fraud_signals_find_the_planted_visitors(
    answered: tuple[Db, list[dict[str, Any]]],
) -> None:
    db, _left = answered
    linked = _ask(db, "shared_linked_ids")
    assert [(r[0], int(r[1])) for r in linked] == [("acct-1", 3)]
    assert {r[1] for r in _ask(db, "many_countries")} == {"v9"}
    assert {r[1] for r in _ask(db, "many_ips")} == {"v9"}


def test_bot_share_by_asn_points_at_the_bots_network(
    answered: tuple[Db, list[dict[str, Any]]],
) -> None:
    db, left = answered
    rows = _ask(db, "bots_by_asn")
    by_asn = {int(r[0]): (r[1], int(r[2]), int(r[3]), float(r[4])) for r in rows}
    bot_visits = sum(1 for r in left if r["visitor_id"] == "v3")
    assert by_asn[64500] == ("Hosting", bot_visits, bot_visits, 100.0)
    assert rows[0][0] == 64500  # the most bots first
    assert {k: v[2] for k, v in by_asn.items() if k != 64500} == {64496: 0, 64497: 0}
    assert sum(v[1] for v in by_asn.values()) == len(left)


def test_sessions_split_at_gaps_over_30_minutes(
    answered: tuple[Db, list[dict[str, Any]]],
) -> None:
    db, left = answered
    times = sorted(r["timestamp_ms"] for r in left if r["visitor_id"] == "v0")
    expected = 1 + sum(1 for a, b in itertools.pairwise(times) if b - a > 1_800_000)
    sessions = _ask(db, "sessions", visitor="v0")
    assert len(sessions) == expected
    assert sum(int(r[3]) for r in sessions) == len(times)


@pytest.mark.parametrize("key", [q.key for q in questions.QUESTIONS])
def test_the_sql_shown_to_analysts_runs_as_bound(
    answered: tuple[Db, list[dict[str, Any]]], key: str
) -> None:
    """docs/analytics.md shows each query laid out on lines with its parameters written in:
    that text gives the rows the bound statement gives."""
    db, _left = answered
    params = {**PARAMS, "visitor": "v'0"}  # a quote in a value: escaped, not spliced
    for statement in questions.BY_KEY[key].statements(Layout(db.name), params):
        shown = questions.pretty(questions.inline(statement.sql, statement.params))
        assert "\n" in shown
        assert db.execute(shown) == db.execute(statement.sql, statement.params)
