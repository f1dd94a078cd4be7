"""``vh views backfill``: fill the analysts' aggregates (traffic_daily, traffic_hourly) from
visits stored before their views existed (migration 031), month by month, with a progress
bar. Safe to run again, and while the worker writes: the aggregates hold uniq states, so
visits counted twice count once. On a cluster each shard fills its own tables."""

from __future__ import annotations

import argparse
import logging
from collections import Counter

from ingest.config import IngestConfig
from ingest.writer import ClickHouseWriter
from schemas.clickhouse import aggregates
from vh.commands import Subparsers, command
from vh.progress import Progress

logger = logging.getLogger(__name__)


def register(sub: Subparsers) -> None:
    parser = command(
        sub,
        "views",
        backfill,
        "the analysts' aggregates: views backfill",
        "backfill: compute traffic_daily and traffic_hourly from the stored visits (for data "
        "stored before the views existed); idempotent.",
    )
    parser.add_argument("action", choices=["backfill"], help="backfill: fill from visits")


def backfill(args: argparse.Namespace) -> int:
    config = IngestConfig.from_env(args.environ)
    with ClickHouseWriter.from_config(config) as writer:
        months: Counter[int] = Counter()
        listing = aggregates.visit_months(writer.layout)
        for month, rows in writer.on_each_shard(listing.sql, listing.params):
            months[int(month)] += int(rows)
        bar = Progress("visits counted into the aggregates", sum(months.values()))
        for month in sorted(months):
            for statement in aggregates.backfill_month(writer.layout, month):
                writer.on_each_shard(statement.sql, statement.params)
            bar.update(bar.done + months[month])
        bar.close()
    logger.info("aggregates backfilled", extra={"months": len(months), "visits": bar.done})
    return 0
