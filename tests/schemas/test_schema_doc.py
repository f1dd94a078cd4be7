"""docs/schema.md is what the migrations render (comments included), every column has a
COMMENT, and 18.16 keeps the same comments as the current engine."""

from __future__ import annotations

import uuid
from pathlib import Path
from typing import Any

from schemas.clickhouse import migrations, schema_doc
from schemas.clickhouse.tables import TABLES
from tests.support.services import ChdbSession
from vh import schema_doc as command

DOC = Path(__file__).resolve().parents[2] / "docs" / "schema.md"


def test_the_schema_document_is_what_the_migrations_render(chdb_session: ChdbSession) -> None:
    assert DOC.read_text(encoding="utf-8") == command.generate(chdb_session.execute), (
        "docs/schema.md is stale: run `make docs` (vh schema-doc)"
    )


def _comments(execute: Any, db: str) -> dict[tuple[str, str], str]:
    # No ORDER BY position: 18.16's system.columns has no such column.
    rows = execute(f"SELECT table, name, type, comment FROM system.columns WHERE database = '{db}'")
    names = {t.name for t in TABLES}
    return {(str(r[0]), str(r[1])): str(r[3]) for r in rows if str(r[0]) in names}


def test_every_column_has_a_comment_on_the_current_engine(chdb_session: ChdbSession) -> None:
    db = f"vh_doc_{uuid.uuid4().hex[:8]}"
    migrations.apply(chdb_session.execute, db, log=lambda _m: None)
    try:
        comments = _comments(chdb_session.execute, db)
    finally:
        chdb_session.execute(f"DROP DATABASE IF EXISTS {db}")
    assert {t for t, _ in comments} == {t.name for t in TABLES}
    assert [f"{t}.{c}" for (t, c), text in comments.items() if not text] == []


def test_18_16_keeps_every_comment_the_current_engine_has(
    ch_client: Any, ch_database: str, chdb_session: ChdbSession
) -> None:
    db = f"vh_doc_{uuid.uuid4().hex[:8]}"
    migrations.apply(chdb_session.execute, db, log=lambda _m: None)
    try:
        current = _comments(chdb_session.execute, db)
    finally:
        chdb_session.execute(f"DROP DATABASE IF EXISTS {db}")
    assert _comments(ch_client.execute, ch_database) == current


def test_table_notes_are_the_comment_lines_above_each_create() -> None:
    notes = schema_doc.table_notes()
    assert notes["visits"].startswith("One row per visit, ordered the way the API reads it")
    assert "uniqCombinedMerge(visits)" in notes["traffic_daily"]
    assert all(notes.get(t.name) for t in TABLES), "every table needs a note above its CREATE"
