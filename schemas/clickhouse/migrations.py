"""Numbered ClickHouse migrations, rendered for the server they run on.

The SQL files beside this module (`NNN_name.sql`) are the schema analysts read. They carry a
few placeholders because the Debian server (18.16) lacks types that current servers have:
`{lc_string}` is LowCardinality(String) where supported, `{time_type}` DateTime64(3, 'UTC')
or DateTime('UTC'), `{codec_delta}` a Delta+ZSTD codec or nothing. What a server supports is
decided from `SELECT version()` (see `ServerFeatures`), never guessed. A migration whose file
has a line `-- requires: <feature>` (a boolean of `ServerFeatures`) is skipped, and NOT
recorded, on a server without that feature (e.g. settings 18.16 does not know): the first
`vh migrate` after the server is upgraded in place runs it. Such a migration must therefore
not depend on running before the ones numbered after it. A line `-- then: vh views backfill`
marks a migration that makes the analysts' aggregates again, empty: `vh migrate` refills them
from the stored visits once it has run.

This module does no I/O of its own: `apply` takes an `execute(sql) -> rows` callable, so
clickhouse-driver, chdb or a test double can run it.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from schemas.clickhouse import layout
from schemas.clickhouse.layout import Layout
from schemas.clickhouse.tables import identifier

HERE = Path(__file__).resolve().parent
_FILE = re.compile(r"^(\d{3})_([a-z0-9_]+)\.sql$")
_PLACEHOLDER = re.compile(r"\{([a-z_]+)\}")
_REQUIRES = re.compile(r"^--\s*requires:\s*([a-z_]+)\s*$", re.MULTILINE)
_REFILLS_VIEWS = re.compile(r"^--\s*then:\s*vh views backfill\s*$", re.MULTILINE)

Execute = Callable[[str], Sequence[tuple[Any, ...]]]


class MigrationError(RuntimeError):
    """A migration failed; carries which one so the operator knows where it stopped."""

    def __init__(self, version: int, name: str, statement: str, cause: Exception) -> None:
        self.version, self.name, self.statement = version, name, statement
        super().__init__(f"migration {version:03d}_{name} failed: {cause}\nstatement:\n{statement}")


@dataclass(frozen=True)
class ServerFeatures:
    """What the connected ClickHouse can do, from its version."""

    version: tuple[int, ...]
    # LowCardinality left experimental, codecs and TTL became usable, DateTime64 arrived: 20.1.
    modern_types: bool
    ttl: bool
    # `insert_deduplication_token` setting: 22.2.
    insert_dedup_token: bool
    # `deduplicate_blocks_in_dependent_materialized_views`: a block its table drops as a
    # duplicate still reaches the views, which deduplicate it themselves. In 20.1's settings;
    # older servers (18.16) skip the views of a deduplicated block, with no way to ask.
    view_dedup: bool = True
    # Column comments on Replicated*MergeTree tables (18.16 refuses such a table).
    replicated_comments: bool = True
    # `DROP TABLE ... SYNC`, which Atomic databases (the default from 20.10) need to free a
    # replicated table's ZooKeeper path at once; 18.16 refuses the word.
    drop_sync: bool = True

    @classmethod
    def from_version(cls, text: str) -> ServerFeatures:
        parts = tuple(int(p) for p in re.findall(r"\d+", text)[:4])
        if len(parts) < 2:
            raise ValueError(f"unrecognised ClickHouse version {text!r}")
        return cls(
            version=parts,
            modern_types=parts >= (20, 1),
            ttl=parts >= (20, 1),
            insert_dedup_token=parts >= (22, 2),
            view_dedup=parts >= (20, 1),
            replicated_comments=parts >= (20, 1),
            drop_sync=parts >= (20, 10),
        )

    def placeholders(self) -> dict[str, str]:
        if self.modern_types:
            return {
                "lc_string": "LowCardinality(String)",
                "lc_nullable_string": "LowCardinality(Nullable(String))",
                "time_type": "DateTime64(3, 'UTC')",
                "codec_delta": "CODEC(Delta, ZSTD(1))",
            }
        return {
            "lc_string": "String",
            "lc_nullable_string": "Nullable(String)",
            "time_type": "DateTime('UTC')",
            "codec_delta": "",
        }


@dataclass(frozen=True)
class Migration:
    version: int
    name: str
    statements: tuple[str, ...]
    checksum: str
    #: Features its `-- requires:` lines name that this server lacks (then no statements).
    missing: tuple[str, ...] = ()


def discover(directory: Path = HERE) -> list[tuple[int, str, str]]:
    """(version, name, raw SQL) of every migration file, in version order."""
    found = []
    for path in sorted(directory.iterdir()):
        match = _FILE.match(path.name)
        if match:
            found.append((int(match.group(1)), match.group(2), path.read_text()))
    versions = [v for v, _, _ in found]
    if len(versions) != len(set(versions)):
        raise ValueError(f"two migrations share a number in {directory}: {versions}")
    return found


def _split(sql: str) -> tuple[str, ...]:
    body = "\n".join(line for line in sql.splitlines() if not line.lstrip().startswith("--"))
    return tuple(s.strip() for s in body.split(";") if s.strip())


def _fill(statement: str, values: dict[str, str], name: str) -> str:
    # Only `{identifier}` is a placeholder: JSON-ish text such as '{}' in comments stays.
    def one(match: re.Match[str]) -> str:
        key = match.group(1)
        if key not in values:
            raise ValueError(f"migration {name}: unknown placeholder {{{key}}}")
        return values[key]

    return _PLACEHOLDER.sub(one, statement)


def render(
    features: ServerFeatures,
    database: str,
    directory: Path = HERE,
    *,
    cluster: str | None = None,
) -> list[Migration]:
    """The migrations as statements for this server and database, on one server or, with
    ``cluster``, as their cluster twins (``schemas.clickhouse.layout``)."""
    identifier(database)
    where = Layout(database, cluster, features.replicated_comments, features.drop_sync)
    values = {**features.placeholders(), "db": database}
    out = []
    for version, name, raw in discover(directory):
        required = _REQUIRES.findall(raw)
        for feature in required:
            if not isinstance(getattr(features, feature, None), bool):
                raise ValueError(f"migration {name}: unknown feature {feature!r} in requires")
        missing = tuple(f for f in required if not getattr(features, f))
        statements: tuple[str, ...] = ()
        if not missing:
            statements = tuple(
                out for s in _split(raw) for out in layout.render(_fill(s, values, name), where)
            )
        checksum = hashlib.sha256(raw.encode()).hexdigest()[:16]
        out.append(Migration(version, name, statements, checksum, missing))
    return out


def refill_views(applied: Sequence[int], directory: Path = HERE) -> bool:
    """Whether one of the ``applied`` migrations made the aggregates again, empty (its
    ``-- then: vh views backfill`` line), so that they are to be refilled."""
    done = set(applied)
    return any(
        v in done and _REFILLS_VIEWS.search(raw) is not None for v, _, raw in discover(directory)
    )


def _literal(text: str) -> str:
    return "'" + text.replace("\\", "\\\\").replace("'", "\\'") + "'"


def apply(
    execute: Execute,
    database: str,
    *,
    log: Callable[[str], None] = print,
    directory: Path = HERE,
    cluster: str | None = None,
) -> list[int]:
    """Create `database` if needed and run the migrations it has not had yet.

    Idempotent: a second call applies nothing. Every statement is itself
    `IF NOT EXISTS`, so two processes migrating at once do no harm. A migration the server
    lacks a feature for is skipped and left unrecorded (logged), so it runs once it can.
    With ``cluster``, every statement runs ``ON CLUSTER`` in its cluster rendering, and the
    bookkeeping table is replicated to every node. Returns the versions applied by this
    call. Raises MigrationError naming the one that failed.
    """
    features = ServerFeatures.from_version(str(execute("SELECT version()")[0][0]))
    migrations = render(features, database, directory, cluster=cluster)
    where = Layout(database, cluster)
    execute(layout.create_database(where))
    for statement in layout.render(
        f"CREATE TABLE IF NOT EXISTS {database}.schema_migrations "
        "(version UInt32, name String, checksum String, applied_at DateTime) "
        "ENGINE = MergeTree() ORDER BY version",
        where,
    ):
        execute(statement)
    done = {int(row[0]) for row in execute(f"SELECT version FROM {database}.schema_migrations")}
    applied = []
    for migration in migrations:
        if migration.version in done:
            continue
        if migration.missing:
            log(
                f"skipping {database}: {migration.version:03d}_{migration.name} (this server "
                f"{'.'.join(map(str, features.version))} lacks {', '.join(migration.missing)};"
                " it runs on the first `vh migrate` after an upgrade)"
            )
            continue
        log(f"migrating {database}: {migration.version:03d}_{migration.name}")
        for statement in migration.statements:
            try:
                execute(statement)
            except Exception as exc:
                raise MigrationError(migration.version, migration.name, statement, exc) from exc
        execute(
            # INSERT ... SELECT, not VALUES: clients such as clickhouse-driver expect VALUES
            # data to be sent separately, and this must run through a plain execute().
            f"INSERT INTO {database}.schema_migrations (version, name, checksum, applied_at) "
            f"SELECT {migration.version}, {_literal(migration.name)}, "
            f"{_literal(migration.checksum)}, now()"
        )
        applied.append(migration.version)
    return applied
