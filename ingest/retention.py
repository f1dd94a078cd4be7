"""Retention of ``visits`` (and of v4's ``event_index``, which points at them): TTL where the
server has it, whole-partition drops otherwise.

``VH_RETENTION_DAYS`` (0 = keep forever). On servers with TTL (20.1+), ``vh migrate`` sets
``TTL toDateTime(time) + INTERVAL N DAY`` on the table each time it runs (only when it differs,
so re-running is free) and ClickHouse expires rows itself. 18.16 has no TTL: there the worker
(every ``VH_RETENTION_CHECK_SECONDS``) and ``vh retention`` drop monthly partitions that lie
wholly before the cutoff, so a visit is kept at least N days and at most N days + one month.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable, Mapping, Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

from ingest import statements
from ingest.writer import ClickHouseWriter
from schemas.clickhouse.layout import Layout

logger = logging.getLogger(__name__)

# The writer's execute, or any `execute(sql, params) -> rows` (chdb in tests).
Execute = Callable[[str, Mapping[str, Any] | None], Sequence[Sequence[Any]]]


def partitions_to_drop(partitions: Iterable[str], days: int, now: datetime) -> list[str]:
    """Monthly partition ids (``YYYYMM``) entirely older than ``now - days``. Pure.

    A partition is dropped only when its whole month precedes the cutoff's month, so no
    visit younger than ``days`` is ever dropped. ``days == 0`` drops nothing.
    """
    if days <= 0:
        return []
    cutoff = (now - timedelta(days=days)).astimezone(UTC)
    cutoff_month = cutoff.year * 100 + cutoff.month
    return sorted(p for p in set(partitions) if p.isdigit() and int(p) < cutoff_month)


def _ttl_clause(days: int, table: str = "visits") -> str:
    # As the server shows it back in engine_full.
    return f"{statements.RETAINED[table]} + toIntervalDay({days})"


def apply_ttl(execute: Execute, layout: Layout, days: int, alter: Execute | None = None) -> str:
    """Make the TTL of every retained table (visits, v4's event_index) match ``days``
    (servers with TTL only). Returns what it did to visits. ``alter`` runs the ALTER (on a
    cluster: on each shard; default ``execute``).

    Raises:
        ClickHouseUnavailable: a statement failed (from the writer's execute).
    """
    done = [_apply_ttl(execute, layout, days, alter or execute, t) for t in statements.RETAINED]
    return done[0]


def _apply_ttl(execute: Execute, layout: Layout, days: int, alter: Execute, table: str) -> str:
    engine = statements.visits_engine(layout, table)
    engine_full = str(execute(engine.sql, engine.params)[0][0])
    has_ttl = " TTL " in f" {engine_full} "
    if days == 0:
        if not has_ttl:
            return "no TTL (keep forever)"
        alter(statements.set_visits_ttl(layout, 0, table), None)
        return "TTL removed (keep forever)"
    if _ttl_clause(days, table) in engine_full:
        return f"TTL already {days} days"
    alter(statements.set_visits_ttl(layout, days, table), None)
    return f"TTL set to {days} days"


def drop_old_partitions(
    execute: Execute, layout: Layout, days: int, now: datetime, alter: Execute | None = None
) -> list[str]:
    """Drop the monthly partitions of the retained tables (visits, v4's event_index) older
    than the retention; return their ids.

    Raises:
        ClickHouseUnavailable: a statement failed (partitions dropped so far stay dropped).
    """
    dropped = set()
    for table in statements.RETAINED:
        parts = statements.visits_partitions(layout, table)
        rows = execute(parts.sql, parts.params)
        for partition in partitions_to_drop((str(r[0]) for r in rows), days, now):
            (alter or execute)(statements.drop_visits_partition(layout, partition, table), None)
            logger.info(
                "retention dropped partition",
                extra={"partition": partition, "days": days, "table": table},
            )
            dropped.add(partition)
    return sorted(dropped)


def enforce(writer: ClickHouseWriter, days: int, now: datetime) -> str:
    """What ``vh retention`` does: TTL on servers that have it, partition drops otherwise."""
    if writer.features().ttl:
        return apply_ttl(writer.execute, writer.layout, days, writer.on_each_shard)
    dropped = drop_old_partitions(writer.execute, writer.layout, days, now, writer.on_each_shard)
    return f"dropped partitions {dropped}" if dropped else "no partition to drop"


class RetentionSchedule:
    """The worker's periodic partition drops (servers without TTL). Call :meth:`tick` often.

    Failures are logged and retried at the next period: retention is never worth stopping
    ingestion for.
    """

    def __init__(
        self,
        writer: ClickHouseWriter,
        days: int,
        every_s: float,
        clock: Callable[[], float],
        now: Callable[[], datetime],
    ) -> None:
        self.writer, self.days, self.every_s = writer, days, every_s
        self._clock, self._now = clock, now
        self._next = clock()  # first check at start-up

    def tick(self) -> None:
        if self.days <= 0 or self._clock() < self._next:
            return
        self._next = self._clock() + self.every_s
        try:
            if not self.writer.features().ttl:
                drop_old_partitions(
                    self.writer.execute,
                    self.writer.layout,
                    self.days,
                    self._now(),
                    self.writer.on_each_shard,
                )
        except Exception as exc:
            logger.warning("retention check failed", extra={"error": str(exc)})
