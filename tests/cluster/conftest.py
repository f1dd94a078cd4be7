"""Fixtures of the cluster tests: the loopback cluster (3 Kafka nodes, ZooKeeper, 2 shards x 2
replicas of ClickHouse), started once per session if not running and left running like the
local stack (`vh stack down --cluster` stops it); a migrated cluster database per test."""

from __future__ import annotations

import contextlib
import uuid
from collections.abc import Iterator
from typing import Any

import pytest

from deploy.cluster import Topology
from deploy.local import cluster
from deploy.local.settings import StackSettings
from schemas.clickhouse import migrations
from tests.support.cluster import CLUSTER, Nodes


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        if "loopback" in getattr(item, "fixturenames", ()):
            item.add_marker("cluster")


@pytest.fixture(scope="session")
def loopback() -> Iterator[Nodes]:
    """The loopback cluster, running."""
    c = cluster.Cluster.local(StackSettings.from_env(), Topology.load())
    cluster.start(c)
    yield Nodes(c)


@pytest.fixture
def cluster_db(loopback: Nodes) -> Iterator[str]:
    """A fresh database migrated ON CLUSTER; dropped afterwards."""
    name = f"vh_cl_{uuid.uuid4().hex[:8]}"
    client = loopback.client(0)
    try:
        migrations.apply(client.execute, name, cluster=CLUSTER, log=lambda _m: None)
        yield name
    finally:
        _drop(client, name)
        client.disconnect()


def _drop(client: Any, name: str) -> None:
    # A node down at the end of a fault test: its copy goes with the cluster's var dir.
    with contextlib.suppress(Exception):
        client.execute(f"DROP DATABASE IF EXISTS {name} ON CLUSTER {CLUSTER}")
