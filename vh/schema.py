"""``vh migrate`` and ``vh retention``: the ClickHouse schema and how long visits stay."""

from __future__ import annotations

import argparse
import logging
from datetime import UTC, datetime

from ingest import retention
from ingest.config import IngestConfig
from ingest.errors import IngestError
from ingest.writer import ClickHouseWriter
from schemas.clickhouse import migrations, upgrade
from vh import views
from vh.commands import Subparsers, command
from vh.progress import Progress

logger = logging.getLogger(__name__)


def register(sub: Subparsers) -> None:
    parser = command(
        sub,
        "migrate",
        migrate,
        "create or upgrade the ClickHouse schema (idempotent)",
        "Apply pending migrations to VH_CLICKHOUSE_DATABASE (ON CLUSTER when "
        "VH_CLICKHOUSE_CLUSTER is set) and set the TTL from VH_RETENTION_DAYS where the "
        "server supports TTL.",
    )
    parser.add_argument(
        "--from-single-node",
        action="store_true",
        help="move a single server's data into the cluster schema (docs/scaling.md)",
    )
    parser.add_argument(
        "--drop-single",
        action="store_true",
        help="after --from-single-node and a check: drop the old *_single tables",
    )
    command(
        sub,
        "retention",
        enforce,
        "enforce VH_RETENTION_DAYS now",
        "Set the TTL (servers with TTL) or drop monthly partitions older than "
        "VH_RETENTION_DAYS (18.16).",
    )


def migrate(args: argparse.Namespace) -> int:
    config = IngestConfig.from_env(args.environ)
    with ClickHouseWriter.from_config(config) as writer:
        if (args.from_single_node or args.drop_single) and not writer.layout.cluster:
            raise ValueError("--from-single-node and --drop-single need VH_CLICKHOUSE_CLUSTER")
        present = {str(n): str(e) for n, e in writer.run(upgrade.existing_tables(writer.layout))}
        if args.drop_single:
            for sql in upgrade.drop_old(writer.layout, set(present)):
                writer.execute(sql)
            logger.info("dropped the single-node tables", extra={"database": writer.database})
            return 0
        if args.from_single_node:
            _set_aside(writer, present)
        applied = migrations.apply(
            lambda sql: writer.execute(sql),
            writer.database,
            log=lambda msg: logger.info(msg),
            cluster=writer.layout.cluster,
        )
        logger.info("migrations applied", extra={"database": writer.database, "applied": applied})
        if migrations.refill_views(applied) and not args.from_single_node:
            # The aggregates were made again, empty: the visits stored so far go back in
            # (the copy of --from-single-node fills them through the views instead).
            views.fill(writer)
        if writer.features().ttl:
            logger.info(
                retention.apply_ttl(
                    writer.execute, writer.layout, config.retention_days, writer.on_each_shard
                )
            )
        if args.from_single_node:
            _copy(writer)
    return 0


def _set_aside(writer: ClickHouseWriter, present: dict[str, str]) -> None:
    """Rename the single-node tables (once: a resumed upgrade finds them renamed)."""
    visits = present.get("visits", "")
    if "visits_single" in present or visits in ("", "Distributed"):
        return
    for sql in upgrade.set_aside(writer.layout, set(present)):
        writer.execute(sql)
    logger.info("single-node tables renamed *_single", extra={"database": writer.database})


def _copy(writer: ClickHouseWriter) -> None:
    """Every old visit to its shard, month by month, then tokens and erasures; checked."""
    months = writer.run(upgrade.visit_months(writer.layout))
    bar = Progress("visits copied to the cluster", sum(int(n) for _, n in months))
    for month, rows in months:
        writer.run(upgrade.copy_visits(writer.layout, int(month)))
        bar.update(bar.done + int(rows))
    bar.close()
    for statement in upgrade.copy_small(writer.layout):
        writer.run(statement)
    for table in ("visits", "erasures", "api_tokens"):
        old, new = (int(v) for v in writer.run(upgrade.counts(writer.layout, table))[0])
        if new < old:
            raise IngestError(
                f"{table}: {old} rows in {table}_single but {new} in the cluster's table: "
                "run `vh migrate --from-single-node` again (copies are deduplicated)"
            )
        logger.info("copied", extra={"table": table, "rows": old, "cluster_rows": new})
    logger.info(
        "single node moved into the cluster; check, then `vh migrate --drop-single`",
        extra={"database": writer.database},
    )


def enforce(args: argparse.Namespace) -> int:
    config = IngestConfig.from_env(args.environ)
    with ClickHouseWriter.from_config(config) as writer:
        done = retention.enforce(writer, config.retention_days, datetime.now(UTC))
    logger.info("retention", extra={"days": config.retention_days, "result": done})
    return 0
