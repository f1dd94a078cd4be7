"""Enriched visit + Kafka coordinates -> one row of the ``visits`` table. Pure, no I/O.

The column order is :data:`COLUMNS` (``schemas.clickhouse.tables.VISITS``, the order of
``schemas/clickhouse/001_visits.sql``); the writer inserts columnar (one list per column, see
:func:`to_columns`). Building the same visit with the same coordinates and ``ingested_at``
gives the same row, always: that is what lets a redelivered message collapse onto its first
copy in the ReplacingMergeTree.
"""

from __future__ import annotations

import functools
import sys
from collections.abc import Sequence
from dataclasses import dataclass
from operator import itemgetter
from typing import Any, Final

import msgspec

from schemas.clickhouse.tables import VISITS
from schemas.visit import EnrichedVisit, Subdivision, ip_key

#: The ``visits`` columns, in the order rows are built and inserted.
COLUMNS: Final = VISITS.columns

# Positions the worker reads back (erasure filter) without a dict per row.
TENANT, VISITOR_ID, TIMESTAMP_MS, REQUEST_ID = 0, 1, 2, 3

Row = tuple[Any, ...]


@dataclass(frozen=True, slots=True)
class KafkaCoordinates:
    """Where a message came from: lineage columns, and what the DLQ headers name."""

    topic: str
    partition: int
    offset: int


def time_value(timestamp_ms: int, *, millisecond_time: bool) -> int:
    """The ``time`` column's value as the raw integer clickhouse-driver sends unchanged.

    ``DateTime64(3)`` (current servers) stores epoch milliseconds; ``DateTime`` (18.16) epoch
    seconds. Integers also skip the driver's per-row datetime conversion.
    """
    return timestamp_ms if millisecond_time else timestamp_ms // 1000


def _tag_text(tag: dict[str, Any] | None) -> str:
    # Sorted keys: the same tag always gives the same text, whatever order the collector used.
    return "{}" if not tag else msgspec.json.encode(tag, order="sorted").decode()


_NO_SUBDIVISIONS: Final[tuple[list[str], list[str]]] = ([], [])


@functools.lru_cache(maxsize=4096)
def _subdivision_columns(subdivisions: tuple[Subdivision, ...]) -> tuple[list[str], list[str]]:
    # One pair of lists per distinct subdivisions value, shared by every row that has it
    # (the GeoIP cache already shares the value itself): a batch of 20,000 rows then holds a
    # few hundred lists instead of 40,000 (~150 bytes and two GC-tracked objects per row,
    # docs/benchmarks.md). Rows are never mutated, so sharing is safe.
    return [s.iso_code for s in subdivisions], [s.name for s in subdivisions]


def build_row(
    visit: EnrichedVisit,
    where: KafkaCoordinates,
    *,
    ingested_at_s: int,
    millisecond_time: bool,
) -> Row:
    """One ``visits`` row, in :data:`COLUMNS` order.

    Args:
        visit: the enriched visit.
        where: the Kafka message it came from (lineage columns).
        ingested_at_s: epoch seconds of the batch (the ReplacingMergeTree version column).
        millisecond_time: the ``time`` column is DateTime64(3) (see :func:`time_value`).
    Never raises on an ``EnrichedVisit`` built by the enricher.
    """
    details = visit.browser_details
    loc = visit.ip_location
    codes, names = (
        _subdivision_columns(loc.subdivisions)
        if loc is not None and loc.subdivisions
        else _NO_SUBDIVISIONS
    )
    return (
        # Interned: a handful of tenants and each visitor's few addresses repeat across a
        # batch; one shared string instead of one decoded copy per row (strings interned this
        # way are freed with their last row).
        sys.intern(visit.workspace_id),
        visit.visitor_id,
        visit.timestamp,
        visit.request_id,
        time_value(visit.timestamp, millisecond_time=millisecond_time),
        visit.url,
        sys.intern(visit.ip),
        1 if visit.incognito else 0,
        visit.linked_id,
        _tag_text(visit.tag),
        float(details.bot_probability),
        details.browser_name,
        details.browser_major_version,
        details.browser_full_version,
        details.os,
        details.os_version,
        details.device,
        details.user_agent,
        0 if loc is None else 1,
        None if loc is None else loc.accuracy_radius,
        None if loc is None else loc.latitude,
        None if loc is None else loc.longitude,
        None if loc is None else loc.postal_code,
        None if loc is None else loc.timezone,
        None if loc is None or loc.city is None else loc.city.name,
        None if loc is None or loc.continent is None else loc.continent.code,
        None if loc is None or loc.continent is None else loc.continent.name,
        None if loc is None or loc.country is None else loc.country.code,
        None if loc is None or loc.country is None else loc.country.name,
        codes,
        names,
        ingested_at_s,
        where.topic,
        where.partition,
        where.offset,
        visit.origin,
        visit.client_referrer,
        visit.environment_id,
        visit.sdk_platform,
        visit.sdk_version,
        visit.asn,
        visit.asn_name,
        visit.asn_network,
        visit.bot,
        visit.geoip_build,
        visit.asn_build,
        visit.ua_rules,
        ip_key(visit.ip),
    )


def to_columns(rows: Sequence[Row]) -> list[list[Any]]:
    """Rows -> one list per column (clickhouse-driver's ``columnar=True`` layout)."""
    if not rows:
        return [[] for _ in COLUMNS]
    # One C-level pass per column: about 2x faster than ``zip(*rows)``, which advances one
    # iterator per row for every column (docs/benchmarks.md).
    return [list(map(itemgetter(i), rows)) for i in range(len(rows[0]))]
