"""Monthly partitions (``PARTITION BY toYYYYMM(time)`` of ``visits``) as SQL bounds: pure.

Shared by the v3 page (``query_api.queries``) and v4's reads (``query_api.v4.queries``).
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Final

#: The last instant a ClickHouse ``DateTime`` holds (2106-02-07): later bounds get no clause.
LAST_DATETIME_MS: Final = (2**32 - 1) * 1000


def month(ms: int) -> int:
    """The partition a visit at epoch ms ``ms`` lands in: ``toYYYYMM(time)``, in UTC."""
    moment = datetime.fromtimestamp(ms // 1000, UTC)
    return moment.year * 100 + moment.month


def partition_bounds(from_ms: int, to_ms: int) -> tuple[list[str], dict[str, int]]:
    """The window again, as months of the partition key ``toYYYYMM(time)``: lets ClickHouse
    skip whole monthly partitions. Returns the clauses and the parameters they bind.

    ``time`` holds the visit's instant as DateTime (18.16: whole seconds) or DateTime64(3)
    (current servers: the worker's milliseconds), and seconds-based bounds on it fail there
    both ways. ``time <= toDateTime(s)`` drops a visit at s.5: the comparison is exact (issue
    11: GET /events missed nearly every visit). ``time < toDateTime(s + 1)`` is right row by
    row, but the min-max index of current servers reads ``time < toDateTime(n)`` as
    ``time <= n - 1``, so it prunes a part whose earliest visit lies within that last second
    (chdb 26.9, EXPLAIN indexes=1). Whole months have neither problem: a month starts on a
    whole second, so a visit's month is the same in both types, and the clause compares
    integers. It can only widen what the ``timestamp_ms`` conditions select, never narrow
    it: ``timestamp_ms >= from`` implies ``month >= month(from)``, and ``timestamp_ms < to``
    implies ``month <= month(to - 1)``.

    Bounds past 2106-02-07 (the last DateTime second; MAX_MS means "no upper bound") get no
    clause: no stored visit lies there, and the timestamp_ms conditions alone stay exact.
    """
    clauses, params = [], {}
    if from_ms <= LAST_DATETIME_MS:
        clauses.append("toYYYYMM(time) >= %(from_month)s")
        params["from_month"] = month(from_ms)
    if 0 < to_ms <= LAST_DATETIME_MS:
        clauses.append("toYYYYMM(time) <= %(to_month)s")
        params["to_month"] = month(to_ms - 1)
    return clauses, params
