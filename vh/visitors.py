"""``vh visitors``: a tenant's most frequent visitors (ids to try the API with)."""

from __future__ import annotations

import argparse
import sys
from datetime import UTC, datetime

from ingest import statements
from ingest.config import IngestConfig
from ingest.writer import ClickHouseWriter
from vh.commands import Subparsers, command


def register(sub: Subparsers) -> None:
    parser = command(
        sub,
        "visitors",
        run,
        "list a tenant's most frequent visitors",
        "Print visitorId, visit count and last visit (UTC) of a tenant's most frequent "
        "visitors, from the per-visitor summary.",
    )
    parser.add_argument("--tenant", default="demo", help="workspace id (demo)")
    parser.add_argument("--limit", type=int, default=10, help="how many (10)")


def run(args: argparse.Namespace) -> int:
    config = IngestConfig.from_env(args.environ)
    with ClickHouseWriter.from_config(config) as writer:
        rows = writer.run(statements.top_visitors(writer.layout, args.tenant, args.limit))
    for visitor_id, visits, last_ms in rows:
        last = datetime.fromtimestamp(last_ms / 1000, UTC).isoformat(timespec="seconds")
        print(f"{visitor_id}\t{visits}\t{last}")
    if not rows:
        print(f"no visitors stored for tenant {args.tenant!r} yet", file=sys.stderr)
    return 0
