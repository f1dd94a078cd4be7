"""Drop visits of erased visitors before they are stored, so replays cannot resurrect them,
and purge the few that slipped in while the worker's snapshot was stale.

Why an in-memory snapshot of the whole ``erasures`` table, refreshed every few seconds and
consulted at flush time (right before the insert), rather than one query per batch for the
batch's visitors: erasures are rare (one row per DELETE request), so the snapshot is small
and one ``GROUP BY`` over it every few seconds costs less than sending tens of thousands of
(tenant, visitor) pairs with every insert. Memory: one entry per erased (tenant, visitor).

What a snapshot misses is an erasure made in the last ``refresh_seconds`` before an insert:
visits in flight at that moment are stored after the erasure's ``ALTER ... DELETE`` was
created, so the mutation never touches them. Readers never see them (the API filters erased
visits at query time), but they would stay in storage, and feed the per-visitor summary an
erased first visit. So every erasure that appears in a refreshed snapshot is *unchecked*
until :class:`ingest.purge.SlipPurge` has looked for such visits (after this worker's earlier
inserts, all made with the older snapshot, are done) and deleted them. On the first load the
erasures of the last :data:`FIRST_LOAD_CHECK_MS` are unchecked too: a worker that crashed
after inserting slipped visits never checked them itself.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable, Sequence
from typing import Any, Final

from ingest.rows import TENANT, TIMESTAMP_MS, VISITOR_ID, Row

logger = logging.getLogger(__name__)

Clock = Callable[[], float]
Fetch = Callable[[], Iterable[Sequence[Any]]]
Erasure = tuple[str, str]  # (tenant, visitor_id)

#: Erasures this recent are checked for slipped visits when a worker starts.
FIRST_LOAD_CHECK_MS: Final = 24 * 3600 * 1000


class ErasureView:
    """The latest erasure instant per (tenant, visitor), refreshed at most every few seconds.

    Args:
        fetch: returns (tenant, visitor_id, erased_at_ms) rows, e.g. running
            ``statements.erasures``; may raise (the caller treats that as ClickHouse failing).
        refresh_seconds: how stale the snapshot may get (0: refresh on every call).
        clock: monotonic seconds.
        wall_ms: epoch milliseconds (which erasures are recent at the first load).
    """

    def __init__(
        self,
        fetch: Fetch,
        refresh_seconds: float,
        clock: Clock,
        wall_ms: Callable[[], int] = lambda: 0,
    ) -> None:
        self._fetch = fetch
        self.refresh_seconds = refresh_seconds
        self._clock = clock
        self._wall_ms = wall_ms
        self._erased: dict[Erasure, int] = {}
        self._loaded_at: float | None = None
        #: Erasures not yet checked for visits stored after their mutation (see the module).
        self.unchecked: dict[Erasure, int] = {}

    def refresh_if_due(self) -> None:
        """Reload the snapshot if older than ``refresh_seconds``; errors from fetch propagate
        and leave the previous snapshot (and its age) in place."""
        now = self._clock()
        if self._loaded_at is not None and now - self._loaded_at < self.refresh_seconds:
            return
        fresh = {(str(t), str(v)): int(at) for t, v, at in self._fetch()}
        if self._loaded_at is None:
            recent = self._wall_ms() - FIRST_LOAD_CHECK_MS
            self.unchecked.update({k: at for k, at in fresh.items() if at >= recent})
        else:
            old = self._erased
            self.unchecked.update({k: at for k, at in fresh.items() if at > old.get(k, -1)})
        self._erased = fresh
        self._loaded_at = now

    def checked(self, erasures: Iterable[Erasure]) -> None:
        """These erasures were checked (and purged where needed): forget them."""
        for key in erasures:
            self.unchecked.pop(key, None)

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
