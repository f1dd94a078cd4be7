"""Purge visits stored after their visitor's erasure (they were in flight when it happened).

An erasure's ``ALTER ... DELETE`` only touches the parts that exist when it is created; a
worker whose erasure snapshot was up to ``VH_ERASURE_REFRESH_SECONDS`` stale may store, just
after, visits the erasure covers. Readers never see them, but they stay in storage and in the
per-visitor summary (whose erased first visit then makes ``firstSeenAt`` null once the
visitor returns). So for every erasure that newly appears in the worker's snapshot
(``ErasureView.unchecked``), once every ``visits`` mutation created up to that erasure has
finished, the worker looks for visits at or before it; any it finds slipped in, and the
erasure's delete statements run again for that visitor (the same statements the API runs).

Each worker checks the erasures its own snapshot brought, after the inserts it made with the
older snapshot: every visit that can slip in is checked by the worker that stored it. Cost:
one primary-key count per erasure, and mutations only where something slipped in.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any, Final

from ingest import statements
from ingest.erasures import ErasureView
from ingest.errors import ClickHouseUnavailable
from ingest.metrics import Metrics, NoMetrics
from schemas.clickhouse import aggregates
from schemas.clickhouse.layout import Layout
from schemas.clickhouse.statements import Statement

logger = logging.getLogger(__name__)

Run = Callable[[Statement], list[tuple[Any, ...]]]

#: The API creates an erasure's mutations right after its erasures row; mutations created up
#: to this long after the erasure instant are waited for before looking for slipped visits.
MUTATION_GRACE_S: Final = 60
#: Erasures checked per call, so that a burst of erasures never holds up the loop for long.
PER_TICK: Final = 50


class SlipPurge:
    """Checks unchecked erasures and purges what slipped in. Call :meth:`tick` often.

    Args:
        run: the writer's ``run`` (raises ClickHouseUnavailable).
        layout: where the schema lives.
        erasures: the worker's snapshot (its ``unchecked`` erasures are this class's input).
        every_s: at most one round of checks per this many seconds.
        clock: monotonic seconds.
    """

    def __init__(
        self,
        run: Run,
        layout: Layout,
        erasures: ErasureView,
        every_s: float,
        clock: Callable[[], float],
        metrics: Metrics | None = None,
    ) -> None:
        self._run, self._layout, self._erasures = run, layout, erasures
        self._every_s, self._clock = every_s, clock
        self._metrics = metrics or NoMetrics()
        self._next = 0.0

    def tick(self) -> None:
        """Refresh the snapshot when due (an idle worker flushes nothing, and would never see
        a new erasure otherwise), then one round of checks if due. Call it only while no
        failed insert waits for a retry: that insert was made with the older snapshot.
        Failures are logged and retried next round (never raised).
        """
        if self._clock() < self._next:
            return
        self._next = self._clock() + self._every_s
        try:
            self._erasures.refresh_if_due()
            if self._erasures.unchecked:
                self._round()
        except ClickHouseUnavailable as exc:
            logger.warning("erasure purge check failed; retrying", extra={"error": str(exc)})

    def _round(self) -> None:
        batch = dict(list(self._erasures.unchecked.items())[:PER_TICK])
        latest_s = max(batch.values()) // 1000 + MUTATION_GRACE_S
        pending = self._run(statements.visits_mutations_pending(self._layout, latest_s))
        if pending and int(pending[0][0]):
            return  # the erasures' own mutations still run: what remains now is not yet known
        purged = 0
        for (tenant, visitor), at in batch.items():
            found = self._run(statements.erased_visits_left(self._layout, tenant, visitor, at))
            if found and int(found[0][0]):
                days = self._run(aggregates.erased_days(self._layout, tenant, visitor, at))
                for statement in aggregates.forget(
                    self._layout, tenant, visitor, at, [str(d[0]) for d in days]
                ):
                    self._run(statement)
                purged += 1
                logger.info(
                    "purged visits stored after their erasure",
                    extra={"tenant": tenant, "visitor_id": visitor, "visits": int(found[0][0])},
                )
            self._erasures.checked([(tenant, visitor)])
        if purged:
            self._metrics.increment("vh_ingest_erasure_purges_total", purged)
