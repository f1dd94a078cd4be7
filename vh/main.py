"""``vh``: every command a user of the pipeline runs.

Logs are JSON lines on stderr (``VH_LOG_LEVEL``). Exit codes: 0 done, 1 a service is missing
or failed (the message says what to run), 2 bad usage or configuration, 3 the dead-letter cap
stopped the worker, 4 the dead-letter topic refused the same letter too often
(docs/ingest.md).
"""

from __future__ import annotations

import argparse
import logging
import os
import sys
from collections.abc import Mapping, Sequence

from deploy.local.processes import ServiceError
from enrich.errors import EnrichError
from ingest import logs
from ingest.errors import ClickHouseUnavailable, IngestError
from query_api.pool import DatabaseError
from schemas import env
from schemas.clickhouse.migrations import MigrationError
from schemas.env import SettingError
from vh import (
    api,
    demo,
    replay,
    report,
    run,
    schema,
    schema_doc,
    stack,
    tokens,
    views,
    visitors,
    webhooks,
    worker,
)
from vh.settings import CommandSettings
from webhooks.errors import WebhooksError

logger = logging.getLogger("vh")

#: The subcommands, in the order ``vh --help`` lists them.
COMMANDS = (
    worker, api, webhooks, schema, schema_doc, views, report, tokens, replay, demo, visitors,
    stack, run,
)  # fmt: skip


def parser() -> argparse.ArgumentParser:
    out = argparse.ArgumentParser(
        prog="vh",
        description="The visit-history pipeline: Kafka -> enrichment -> ClickHouse -> the API.",
        epilog="Settings come from VH_* variables (the README's configuration table).",
    )
    sub = out.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for module in COMMANDS:
        module.register(sub)
    return out


def main(argv: Sequence[str] | None = None, environ: Mapping[str, str] | None = None) -> int:
    """Entry point of the ``vh`` console script; returns the exit code."""
    args = parser().parse_args(argv)
    args.environ = dict(os.environ if environ is None else environ)
    try:
        settings = env.load(CommandSettings, args.environ, error=SettingError)
        logs.configure(settings.log_level)
        code: int = args.run(args)
        return code
    except (SettingError, EnrichError, ValueError) as exc:
        logger.error("configuration error: %s", exc)
        return 2
    except ClickHouseUnavailable as exc:
        logger.error(
            "ClickHouse at %s is not reachable: run `make up` (%s)", exc.endpoint, exc.cause
        )
        return 1
    except (IngestError, MigrationError, ServiceError, DatabaseError, WebhooksError) as exc:
        logger.error("%s", exc)
        return 1
    except Exception as exc:
        if type(exc).__module__.startswith("kafka"):
            # With the traceback: the worker rides out broker outages, so a Kafka error that
            # still gets here comes from a call not expected to fail; the log must say which.
            logger.exception(
                "Kafka at %s failed: %s (is it up? run `make up`)",
                args.environ.get("VH_KAFKA_BOOTSTRAP", "127.0.0.1:19092"),
                exc,
            )
            return 1
        raise


if __name__ == "__main__":
    sys.exit(main())
