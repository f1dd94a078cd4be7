"""``vh views backfill``: fill the analysts' aggregates (traffic_daily, traffic_hourly) from
visits stored before their views existed (migration 031), month by month, with a progress
bar. Safe to run again, and while the worker writes: the aggregates hold uniq states, so
visits counted twice count once. On a cluster each shard fills its own tables.

``vh views rebuild --tenant T --from D --to D``: delete a tenant's aggregate rows of those
days and compute them again from the visits that survive every erasure: the repair when an
erasure's own rebuild did not finish (DELETE /visitors runs it within the API's query time
limit; a timeout leaves the erased visitor counted in the aggregates)."""

from __future__ import annotations

import argparse
import logging
from collections import Counter
from datetime import date, timedelta

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
        run,
        "the analysts' aggregates: views backfill",
        "backfill: compute traffic_daily and traffic_hourly from the stored visits (for data "
        "stored before the views existed); idempotent.",
    )
    parser.add_argument(
        "action", choices=["backfill", "rebuild"], help="backfill: fill from visits; rebuild: "
        "redo a tenant's days (--tenant, --from, --to)",
    )  # fmt: skip
    parser.add_argument("--tenant", help="rebuild: the workspace id")
    parser.add_argument("--from", dest="start", type=date.fromisoformat, help="YYYY-MM-DD")
    parser.add_argument("--to", dest="end", type=date.fromisoformat, help="YYYY-MM-DD")


def run(args: argparse.Namespace) -> int:
    return rebuild(args) if args.action == "rebuild" else backfill(args)


def backfill(args: argparse.Namespace) -> int:
    config = IngestConfig.from_env(args.environ)
    with ClickHouseWriter.from_config(config) as writer:
        fill(writer)
    return 0


def fill(writer: ClickHouseWriter) -> None:
    """Every stored visit's states into the aggregates, month by month, on every shard."""
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


def rebuild(args: argparse.Namespace) -> int:
    if not (args.tenant and args.start and args.end) or args.end < args.start:
        raise ValueError("vh views rebuild needs --tenant, --from and --to (from <= to)")
    days = [
        (args.start + timedelta(days=n)).isoformat()
        for n in range((args.end - args.start).days + 1)
    ]
    config = IngestConfig.from_env(args.environ)
    with ClickHouseWriter.from_config(config) as writer:
        bar = Progress(f"days of {args.tenant} rebuilt", len(days))
        for day in days:
            for statement in aggregates.rebuild_days(writer.layout, args.tenant, [day]):
                writer.on_each_shard(statement.sql, statement.params)
            bar.update(bar.done + 1)
        bar.close()
    return 0
