"""What the command modules share: building a subcommand. Each command reads its settings
from ``args.environ`` (the process environment, or a test's), once."""

from __future__ import annotations

import argparse
from collections.abc import Callable
from typing import Any

Run = Callable[[argparse.Namespace], int]
Subparsers = Any  # argparse's private _SubParsersAction


def command(sub: Subparsers, name: str, run: Run, summary: str, description: str) -> Any:
    """Add subcommand ``name`` that calls ``run(args)``; return its parser for arguments."""
    parser = sub.add_parser(name, help=summary, description=description)
    parser.set_defaults(run=run)
    return parser
