"""DELETE /visitors/{id} also takes the visitor out of the analysts' aggregates (traffic_*):
the days it was seen are rebuilt from what survives."""

from __future__ import annotations

import time
from typing import Any

import httpx

from tests.query_api import visits
from tests.support.api import TENANT, Secrets, now_ms


def _daily(ch_client: Any) -> list[tuple[Any, ...]]:
    return list(
        ch_client.execute(
            "SELECT toString(day), uniqCombinedMerge(visits), uniqCombinedMerge(visitors) FROM"
            " traffic_daily"
            " WHERE tenant = %(t)s AND dimension = 'all' GROUP BY day ORDER BY day",
            {"t": TENANT},
        )
    )


def _pending_mutations(ch_client: Any) -> int:
    return int(
        ch_client.execute(
            "SELECT count() FROM system.mutations WHERE database = currentDatabase()"
            " AND is_done = 0"
        )[0][0]
    )


def test_delete_rebuilds_the_days_the_visitor_was_seen(
    api: httpx.Client, secrets: Secrets, ch_client: Any
) -> None:
    t = now_ms() - 2 * 86_400_000
    stay = [visits.visit(TENANT, "Stay", t + i, f"s{i}") for i in range(3)]
    gone = [visits.visit(TENANT, "Gone", t + i, f"g{i}") for i in range(4)]
    visits.insert(ch_client, [*stay, *gone])
    visits.insert(ch_client, gone[:2])  # redelivered
    (before,) = _daily(ch_client)
    assert before[1:] == (7, 2)

    assert api.delete("/visitors/Gone", headers={"Auth-API-Key": secrets.acme}).status_code == 200
    deadline = time.monotonic() + 60
    while _pending_mutations(ch_client):
        assert time.monotonic() < deadline
        time.sleep(0.1)
    assert _daily(ch_client) == [(before[0], 3, 1)]
