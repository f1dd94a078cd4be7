"""Deliveries given up on: the record, its SQL, and what replay reads back.

A dead letter keeps the body exactly as it was POSTed (so a replay is the same event, and
re-signed with the endpoint's current secrets), why delivery stopped and how many attempts
were made. ``vh webhooks replay`` delivers them again and marks each delivered one
``replayed`` (a newer row; readers take the newest).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from schemas.clickhouse.layout import Layout
from schemas.clickhouse.tables import WEBHOOK_DEAD_LETTERS

Execute = Callable[[str, Any], Sequence[tuple[Any, ...]]]


@dataclass(frozen=True, slots=True)
class DeadLetter:
    tenant: str
    endpoint_id: str
    event_id: str
    visitor_id: str
    body: bytes
    reason: str
    attempts: int
    first_attempt_ms: int
    dead_at_ms: int


def _insert(layout: Layout) -> str:
    return (
        f"INSERT INTO {layout.qualified(WEBHOOK_DEAD_LETTERS.name)}"
        f" ({WEBHOOK_DEAD_LETTERS.column_list()}) VALUES"
    )


def _row(letter: DeadLetter, replayed: int, version: int) -> tuple[Any, ...]:
    return (
        letter.tenant, letter.endpoint_id, letter.event_id, letter.visitor_id,
        letter.body.decode("utf-8", "replace"), letter.reason[:1000], letter.attempts,
        letter.first_attempt_ms, letter.dead_at_ms, replayed, version,
    )  # fmt: skip


def record(execute: Execute, layout: Layout, letters: Sequence[DeadLetter]) -> None:
    """Store dead letters as one insert (raises the store's error: the caller retries)."""
    execute(_insert(layout), [_row(x, 0, x.dead_at_ms) for x in letters])


def mark_replayed(
    execute: Execute, layout: Layout, letters: Sequence[DeadLetter], now_ms: int
) -> None:
    if letters:
        rows = [_row(x, 1, max(now_ms, x.dead_at_ms + 1)) for x in letters]
        execute(_insert(layout), rows)


def pending(
    execute: Execute, layout: Layout, tenant: str, endpoint_id: str | None = None
) -> list[DeadLetter]:
    """The tenant's letters not replayed yet (of one endpoint, if given), oldest first (a
    replay keeps each visitor's order)."""
    params: Mapping[str, Any] = {"tenant": tenant, "endpoint": endpoint_id or ""}
    rows = execute(
        "SELECT endpoint_id, event_id, argMax(visitor_id, version), argMax(body, version),"
        " argMax(reason, version), argMax(attempts, version),"
        " argMax(first_attempt_ms, version), argMax(dead_at_ms, version),"
        " argMax(replayed, version) AS done"
        f" FROM {layout.qualified(WEBHOOK_DEAD_LETTERS.name)}"
        " WHERE tenant = %(tenant)s AND (%(endpoint)s = '' OR endpoint_id = %(endpoint)s)"
        " GROUP BY endpoint_id, event_id HAVING done = 0"
        " ORDER BY argMax(dead_at_ms, version), endpoint_id, event_id",
        params,
    )
    return [
        DeadLetter(
            tenant, str(e), str(r), str(v), str(b).encode(), str(why), int(n), int(f), int(d)
        )
        for e, r, v, b, why, n, f, d, _ in rows
    ]
