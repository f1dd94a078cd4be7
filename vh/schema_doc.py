"""``vh schema-doc``: write (or check) docs/schema.md from the migrations.

The migrations run on a scratch database of the current ClickHouse engine in-process (chdb,
a dev dependency: this is a developer's command, run by ``make docs``), so the document
shows a current server's types and comments whatever server the settings name.
"""

from __future__ import annotations

import argparse
import json
import sys
import uuid
from pathlib import Path
from typing import Any

from schemas.clickhouse import migrations, schema_doc
from vh.commands import Subparsers, command

DOC = Path(__file__).resolve().parents[1] / "docs" / "schema.md"


def register(sub: Subparsers) -> None:
    parser = command(
        sub,
        "schema-doc",
        run,
        "write docs/schema.md from the migrations' comments",
        "Migrate a scratch database on chdb (the current engine, in-process) and write the "
        "tables and columns, with their COMMENTs, to docs/schema.md; --check only compares.",
    )
    parser.add_argument("--out", type=Path, default=DOC, help="where to write (docs/schema.md)")
    parser.add_argument("--check", action="store_true", help="exit 1 if the file is stale")


def generate(execute: migrations.Execute) -> str:
    """The document as the migrations render on the server ``execute`` reaches (a scratch
    database, dropped afterwards).

    Raises:
        RuntimeError: a column has no COMMENT.
    """
    db = f"vh_schema_doc_{uuid.uuid4().hex[:8]}"
    try:
        migrations.apply(execute, db, log=lambda _m: None)
        columns = execute(schema_doc.COLUMNS_QUERY.format(db=db))
        tables = execute(schema_doc.TABLES_QUERY.format(db=db))
        missing = schema_doc.uncommented(columns)
        if missing:
            raise RuntimeError(f"columns without a COMMENT: {', '.join(missing)}")
        return schema_doc.render(columns, tables, schema_doc.table_notes())
    finally:
        execute(f"DROP DATABASE IF EXISTS {db}")


def _on_chdb() -> str:
    try:
        from chdb import session
    except ImportError as exc:
        raise RuntimeError("vh schema-doc needs chdb: pip install -e '.[dev]'") from exc
    chdb = session.Session()

    def execute(sql: str) -> list[tuple[Any, ...]]:
        text = chdb.query(sql, "JSONCompact").bytes()
        return [tuple(r) for r in json.loads(text)["data"]] if text else []

    try:
        return generate(execute)
    finally:
        chdb.close()


def run(args: argparse.Namespace) -> int:
    try:
        text = _on_chdb()
    except RuntimeError as exc:
        print(exc, file=sys.stderr)
        return 1
    if args.check:
        current = args.out.read_text(encoding="utf-8") if args.out.exists() else ""
        if current != text:
            print(f"{args.out} is stale: run `vh schema-doc` (make docs)", file=sys.stderr)
            return 1
        return 0
    args.out.write_text(text, encoding="utf-8")
    print(f"written to {args.out}")
    return 0
