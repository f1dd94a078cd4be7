"""``vh migrate`` and ``vh retention``: the ClickHouse schema and how long visits stay."""

from __future__ import annotations

import argparse
import logging
from datetime import UTC, datetime

from ingest import retention
from ingest.config import IngestConfig
from ingest.writer import ClickHouseWriter
from schemas.clickhouse import migrations
from vh.commands import Subparsers, command

logger = logging.getLogger(__name__)


def register(sub: Subparsers) -> None:
    command(
        sub,
        "migrate",
        migrate,
        "create or upgrade the ClickHouse schema (idempotent)",
        "Apply pending migrations to VH_CLICKHOUSE_DATABASE and set the TTL from "
        "VH_RETENTION_DAYS where the server supports TTL.",
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
        applied = migrations.apply(
            lambda sql: writer.execute(sql),
            writer.database,
            log=lambda msg: logger.info(msg),
            cluster=writer.layout.cluster,
        )
        logger.info("migrations applied", extra={"database": writer.database, "applied": applied})
        if writer.features().ttl:
            logger.info(retention.apply_ttl(writer.execute, writer.layout, config.retention_days))
    return 0


def enforce(args: argparse.Namespace) -> int:
    config = IngestConfig.from_env(args.environ)
    with ClickHouseWriter.from_config(config) as writer:
        done = retention.enforce(writer, config.retention_days, datetime.now(UTC))
    logger.info("retention", extra={"days": config.retention_days, "result": done})
    return 0
