"""Drop visits of erased visitors before they are stored, so replays cannot resurrect them.

Why an in-memory snapshot of the whole ``erasures`` table, refreshed every few seconds and
consulted at flush time (right before the insert), rather than one query per batch for the
batch's visitors: erasures are rare (one row per DELETE request), so the snapshot is small
and one ``GROUP BY`` over it every few seconds costs less than sending tens of thousands of
(tenant, visitor) pairs with every insert. What a snapshot can miss is an erasure made in the
last ``refresh_seconds`` before an insert; readers never see those visits anyway, because the
API filters erased visits at query time, and the erasure's own ``ALTER ... DELETE`` is the
API's business. The case that matters, replaying old messages long after the erasure, is
always caught. Memory: one entry per erased (tenant, visitor).
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable, Sequence
from typing import Any

from ingest.rows import TENANT, TIMESTAMP_MS, VISITOR_ID, Row

logger = logging.getLogger(__name__)

Clock = Callable[[], float]
Fetch = Callable[[], Iterable[Sequence[Any]]]


def erasures_query(database: str) -> str:
    """SQL of the snapshot: (tenant, visitor_id, max erased_at_ms) per erased visitor."""
    return (
        f"SELECT tenant, visitor_id, max(erased_at_ms) FROM {database}.erasures "
        "GROUP BY tenant, visitor_id"
    )


class ErasureView:
    """The latest erasure instant per (tenant, visitor), refreshed at most every few seconds.

    Args:
        fetch: returns (tenant, visitor_id, erased_at_ms) rows, e.g. running
            :func:`erasures_query`; may raise (the caller treats that as ClickHouse failing).
        refresh_seconds: how stale the snapshot may get (0: refresh on every call).
        clock: monotonic seconds.
    """

    def __init__(self, fetch: Fetch, refresh_seconds: float, clock: Clock) -> None:
        self._fetch = fetch
        self.refresh_seconds = refresh_seconds
        self._clock = clock
        self._erased: dict[tuple[str, str], int] = {}
        self._loaded_at: float | None = None

    def refresh_if_due(self) -> None:
        """Reload the snapshot if older than ``refresh_seconds``; errors from fetch propagate
        and leave the previous snapshot (and its age) in place."""
        now = self._clock()
        if self._loaded_at is not None and now - self._loaded_at < self.refresh_seconds:
            return
        self._erased = {(str(t), str(v)): int(at) for t, v, at in self._fetch()}
        self._loaded_at = now

    def erased_at(self, tenant: str, visitor_id: str) -> int | None:
        return self._erased.get((tenant, visitor_id))

    def keep(self, rows: list[Row]) -> tuple[list[Row], int]:
        """Rows whose visit is not erased, and how many were dropped. Pure given the snapshot."""
        if not self._erased:
            return rows, 0
        erased = self._erased
        kept = [
            r
            for r in rows
            if (at := erased.get((r[TENANT], r[VISITOR_ID]))) is None or r[TIMESTAMP_MS] > at
        ]
        return kept, len(rows) - len(kept)

    def __len__(self) -> int:
        return len(self._erased)
