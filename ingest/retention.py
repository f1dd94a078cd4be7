"""Retention of ``visits``: TTL where the server has it, whole-partition drops otherwise.

``VH_RETENTION_DAYS`` (0 = keep forever). On servers with TTL (20.1+), ``vh migrate`` sets
``TTL toDateTime(time) + INTERVAL N DAY`` on the table each time it runs (only when it differs,
so re-running is free) and ClickHouse expires rows itself. 18.16 has no TTL: there the worker
(every ``VH_RETENTION_CHECK_SECONDS``) and ``vh retention`` drop monthly partitions that lie
wholly before the cutoff, so a visit is kept at least N days and at most N days + one month.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Callable, Iterable, Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

from ingest.writer import ClickHouseWriter

logger = logging.getLogger(__name__)

# The writer's execute, or any `execute(sql) -> rows` (chdb in tests): no bound parameters,
# so the database name is checked to be a plain identifier before it is spliced in.
Execute = Callable[[str], Sequence[Sequence[Any]]]
_IDENT = re.compile(r"^[A-Za-z_][A-Za-z0-9_]{0,63}$")


def _checked(database: str) -> str:
    if not _IDENT.match(database):
        raise ValueError(f"database name {database!r} must be a plain identifier")
    return database


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


def _ttl_clause(days: int) -> str:
    return f"toDateTime(time) + toIntervalDay({days})"


def apply_ttl(execute: Execute, database: str, days: int) -> str:
    """Make the table's TTL match ``days`` (servers with TTL only). Returns what it did.

    Raises:
        ClickHouseUnavailable: a statement failed (from the writer's execute).
    """
    db = _checked(database)
    engine_full = str(
        execute(
            f"SELECT engine_full FROM system.tables WHERE database = '{db}' AND name = 'visits'"
        )[0][0]
    )
    has_ttl = " TTL " in f" {engine_full} "
    if days == 0:
        if not has_ttl:
            return "no TTL (keep forever)"
        execute(f"ALTER TABLE {db}.visits REMOVE TTL")
        return "TTL removed (keep forever)"
    if _ttl_clause(days) in engine_full:
        return f"TTL already {days} days"
    execute(f"ALTER TABLE {db}.visits MODIFY TTL toDateTime(time) + INTERVAL {int(days)} DAY")
    return f"TTL set to {days} days"


def drop_old_partitions(execute: Execute, database: str, days: int, now: datetime) -> list[str]:
    """Drop the monthly partitions of ``visits`` older than the retention; return their ids.

    Raises:
        ClickHouseUnavailable: a statement failed (partitions dropped so far stay dropped).
    """
    db = _checked(database)
    rows = execute(
        "SELECT DISTINCT partition FROM system.parts "
        f"WHERE database = '{db}' AND table = 'visits' AND active"
    )
    dropped = []
    for partition in partitions_to_drop((str(r[0]) for r in rows), days, now):
        # The id is all digits (checked above): safe to splice as the partition literal.
        execute(f"ALTER TABLE {db}.visits DROP PARTITION {partition}")
        logger.info("retention dropped partition", extra={"partition": partition, "days": days})
        dropped.append(partition)
    return dropped


def enforce(writer: ClickHouseWriter, days: int, now: datetime) -> str:
    """What ``vh retention`` does: TTL on servers that have it, partition drops otherwise."""
    if writer.features().ttl:
        return apply_ttl(writer.execute, writer.database, days)
    dropped = drop_old_partitions(writer.execute, writer.database, days, now)
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
                    self.writer.execute, self.writer.database, self.days, self._now()
                )
        except Exception as exc:
            logger.warning("retention check failed", extra={"error": str(exc)})
