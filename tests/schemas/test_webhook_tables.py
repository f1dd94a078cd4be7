"""The webhook tables (050, 051) on a cluster: replicated to every node under their own name
(no Distributed table, no shard in the path), on 18.16's rendering and a current server's.
That every rendered statement parses on the current engine is tests/schemas/test_layout.py's
check over all migrations; running them on the loopback cluster is left to CI (tests/cluster)."""

from __future__ import annotations

import pytest

from schemas.clickhouse import migrations
from schemas.clickhouse.migrations import ServerFeatures


@pytest.mark.parametrize("version", ["18.16.1", "24.8.4.13"])
def test_webhook_tables_are_replicated_to_every_node(version: str) -> None:
    rendered = [
        s
        for m in migrations.render(ServerFeatures.from_version(version), "vh", cluster="c1")
        if m.version in (50, 51)
        for s in m.statements
    ]
    assert len(rendered) == 2
    for statement, table in zip(
        rendered, ("webhook_endpoints", "webhook_dead_letters"), strict=True
    ):
        assert statement.startswith(f"CREATE TABLE IF NOT EXISTS vh.{table} ON CLUSTER c1\n(")
        assert (
            f"ENGINE = ReplicatedReplacingMergeTree('/clickhouse/tables/all/vh.{table}',"
            " '{replica}', version)" in statement
        )
        assert "Distributed" not in statement
