"""``vh api [--workers N]``: the query API (uvicorn), one process or N sharing the port."""

from __future__ import annotations

import argparse
import os

from query_api.config import ApiConfig
from query_api.server import serve
from vh.commands import Subparsers, command


def register(sub: Subparsers) -> None:
    parser = command(
        sub,
        "api",
        run,
        "serve the query API until stopped",
        "Serve GET /visitors/{id} and the rest on VH_API_HOST:VH_API_PORT (docs/api.md).",
    )
    parser.add_argument(
        "--workers",
        type=int,
        default=1,
        help="processes sharing the port (default 1; up to one per core helps)",
    )


def run(args: argparse.Namespace) -> int:
    if args.workers < 1:
        raise ValueError("--workers must be at least 1")
    config = ApiConfig.from_env(args.environ)
    # uvicorn's worker processes read their settings from the environment: hand them ours.
    os.environ.update(args.environ)
    serve(config, args.workers)
    return 0
