"""Where the schema lives, and the single-node DDL rendered for it: one server, or a cluster
of shards of replicas (Snuba's ``table_engines`` idea: one description, two renderings).

The migrations are written once, for one server (what analysts read). On a cluster
(``VH_CLICKHOUSE_CLUSTER``, a cluster named in the servers' ``remote_servers``) each
statement becomes its cluster twin, run ``ON CLUSTER``:

- a **sharded** table (``tables.Table.placement``; visits and the per-visitor tables) is
  stored as ``<name>_local``, a ``Replicated*MergeTree`` whose ZooKeeper path names the shard
  (``/clickhouse/tables/{shard}/<db>.<name>_local``, replica ``{replica}``: the servers'
  macros), and ``<name>`` becomes a ``Distributed`` table over them, sharded by
  :data:`tables.SHARDING_KEY` (a hash of the visitor: a visitor's history, for every tenant,
  lives on one shard);
- a table **everywhere** (tokens, erasures, the migrations' bookkeeping: small, read by
  every node) is one ``Replicated*MergeTree`` all nodes replicate (path ``.../all/...``);
- a materialized view reads and writes the local tables of the node it runs on, so it sees
  exactly the rows inserted into that node's shard;
- an ``ALTER`` goes to the storage table;
- a ``DROP TABLE`` drops it on every node: a sharded table's Distributed table and its
  local tables (dropping the last replica frees its ZooKeeper path for a table made again);
- an ``INSERT ... SELECT`` (a backfill) runs as written, through the Distributed tables.

Pure: text in, text out. The rendering is checked by parsing on the current engine (chdb)
and by running it on the loopback cluster (``tests/cluster``).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Final

from schemas.clickhouse.tables import TABLES, identifier

_BY_NAME: Final = {t.name: t for t in TABLES}
_CREATE_TABLE: Final = re.compile(r"^CREATE TABLE IF NOT EXISTS (\w+)\.(\w+)\s*\(", re.S)
_CREATE_VIEW: Final = re.compile(r"^CREATE MATERIALIZED VIEW IF NOT EXISTS (\w+)\.(\w+) ")
_ALTER: Final = re.compile(r"^ALTER TABLE (\w+)\.(\w+)\s")
_DROP: Final = re.compile(r"^DROP TABLE IF EXISTS (\w+)\.(\w+)$")
_ADD_COLUMN: Final = re.compile(r"^\s+ADD COLUMN\b")
_ENGINE: Final = re.compile(r"ENGINE = (\w*MergeTree)\(([^)]*)\)")
_REFERENCE: Final = r"\b{db}\.(\w+)\b"
_COMMENT: Final = re.compile(r"\s+COMMENT\s+'(?:[^'\\]|\\.)*'")
_COMMENT_COLUMNS: Final = re.compile(r"^\s*COMMENT COLUMN\b")
#: Inserted blocks each replicated table remembers for deduplication.
DEDUPLICATION_WINDOW: Final = 1000


@dataclass(frozen=True, slots=True)
class Layout:
    """A database on one server (``cluster`` None) or on a cluster of that name."""

    database: str
    cluster: str | None = None
    #: Column comments survive on replicated tables (not on 18.16, which then refuses the
    #: table: "Table structure in ZooKeeper is too different from local table structure").
    replicated_comments: bool = True
    #: A dropped table leaves at once (``SYNC``): an Atomic database, the default since
    #: 20.10, otherwise frees a replicated table's ZooKeeper path minutes later, and a table
    #: made again at that path is refused (18.16 drops at once and knows no ``SYNC``).
    drop_sync: bool = True

    def __post_init__(self) -> None:
        identifier(self.database)
        if self.cluster is not None:
            identifier(self.cluster)

    def sharded(self, table: str) -> bool:
        known = _BY_NAME.get(table)
        return self.cluster is not None and known is not None and known.placement == "sharded"

    def storage(self, table: str) -> str:
        """``db.table`` where the rows are stored on a node (``_local`` for sharded tables)."""
        return f"{self.database}.{table}_local" if self.sharded(table) else self.qualified(table)

    def qualified(self, table: str) -> str:
        """``db.table``: the table itself, or on a cluster the Distributed one over shards."""
        return f"{self.database}.{table}"

    @property
    def on_cluster(self) -> str:
        return "" if self.cluster is None else f" ON CLUSTER {self.cluster}"

    def zookeeper_path(self, table: str) -> str:
        place = "{shard}" if self.sharded(table) else "all"
        return f"/clickhouse/tables/{place}/{self.storage(table)}"


def render(statement: str, layout: Layout) -> list[str]:
    """One single-node migration statement as ``layout`` needs it (on a cluster, a sharded
    table's CREATE also gives its Distributed table)."""
    if layout.cluster is None:
        return [statement]
    if match := _CREATE_TABLE.match(statement):
        return _create_table(statement, match.group(2), layout)
    if match := _CREATE_VIEW.match(statement):
        head = f"CREATE MATERIALIZED VIEW IF NOT EXISTS {match.group(1)}.{match.group(2)}"
        body = statement[match.end() - 1 :]
        return [head + layout.on_cluster + _local_references(body, layout)]
    if match := _ALTER.match(statement):
        rest = statement[match.end() - 1 :]
        table = match.group(2)
        if _COMMENT_COLUMNS.match(rest) and not layout.replicated_comments:
            return []  # as in CREATE: 18.16's replicated tables keep no comments
        if not layout.replicated_comments:
            rest = _COMMENT.sub("", rest)
        out = [f"ALTER TABLE {layout.storage(table)}{layout.on_cluster}{rest}"]
        if layout.sharded(table) and _ADD_COLUMN.match(rest):
            # The Distributed table keeps the column list it was created with: it is made
            # again over the altered local table. (18.16 refuses an ALTER ON CLUSTER of a
            # table that is not replicated on a cluster of replicated shards, and the
            # replicated ALTER above returns once every replica applied it.)
            out += [
                f"DROP TABLE IF EXISTS {layout.qualified(table)}{layout.on_cluster}",
                _distributed(table, layout),
            ]
        return out
    if match := _DROP.match(statement):
        table = match.group(2)
        names = [layout.qualified(table)]
        if layout.sharded(table):
            names.append(layout.storage(table))
        sync = " SYNC" if layout.drop_sync else ""
        return [f"DROP TABLE IF EXISTS {name}{layout.on_cluster}{sync}" for name in names]
    if statement.startswith("INSERT INTO "):
        # Through the Distributed tables, which send each row to its visitor's shard.
        return [statement]
    raise ValueError(f"no cluster rendering for statement: {statement[:80]}...")


def create_database(layout: Layout) -> str:
    return f"CREATE DATABASE IF NOT EXISTS {layout.database}{layout.on_cluster}"


def _create_table(statement: str, table: str, layout: Layout) -> list[str]:
    engine = _ENGINE.search(statement)
    if engine is None:
        raise ValueError(f"table {table}: no *MergeTree engine to replicate")
    family, args = engine.group(1), engine.group(2).strip()
    replicated = ", ".join(
        a for a in (f"'{layout.zookeeper_path(table)}'", "'{replica}'", args) if a
    )
    columns = statement[: engine.start()]
    if not layout.replicated_comments:
        columns = _COMMENT.sub("", columns)
    body = columns + f"ENGINE = Replicated{family}({replicated})"
    body += statement[engine.end() :]
    # Remember more inserted blocks than the default 100 (18.16), so that a block retried
    # after a long outage, while other workers kept inserting, is still recognised.
    window = f"replicated_deduplication_window = {DEDUPLICATION_WINDOW}"
    has_settings = re.search(r"\bSETTINGS\b", statement[engine.end() :]) is not None
    body = f"{body}, {window}" if has_settings else f"{body} SETTINGS {window}"
    head = f"CREATE TABLE IF NOT EXISTS {layout.qualified(table)}"
    local = f"CREATE TABLE IF NOT EXISTS {layout.storage(table)}{layout.on_cluster}"
    out = [local + body[len(head) :]]
    if layout.sharded(table):
        out.append(_distributed(table, layout))
    return out


def _distributed(table: str, layout: Layout) -> str:
    """The Distributed table ``db.table`` over every shard's ``table_local``."""
    return (
        f"CREATE TABLE IF NOT EXISTS {layout.qualified(table)}{layout.on_cluster}"
        f" AS {layout.storage(table)} ENGINE = Distributed({layout.cluster},"
        f" {layout.database}, {table}_local, {_BY_NAME[table].sharding_key})"
    )


def _local_references(sql: str, layout: Layout) -> str:
    """Every ``db.table`` of a sharded table in ``sql`` names its local table instead."""
    pattern = re.compile(_REFERENCE.format(db=re.escape(layout.database)))
    return pattern.sub(lambda m: layout.storage(m.group(1)), sql)


#: (shard, host, port) of every replica of a cluster, in ``remote_servers`` order.
CLUSTER_NODES: Final = (
    "SELECT shard_num, host_address, port FROM system.clusters"
    " WHERE cluster = %(cluster)s ORDER BY shard_num, replica_num"
)


def shard_map(rows: list[tuple[object, ...]]) -> list[list[tuple[str, int]]]:
    """:data:`CLUSTER_NODES` rows as the replicas' (host, port) of each shard, in order.

    Raises:
        ValueError: no rows (the cluster is not in ``remote_servers``).
    """
    shards: dict[int, list[tuple[str, int]]] = {}
    for shard, host, port in rows:
        shards.setdefault(int(str(shard)), []).append((str(host), int(str(port))))
    if not shards:
        raise ValueError("the cluster is not in system.clusters (remote_servers)")
    return [shards[k] for k in sorted(shards)]
