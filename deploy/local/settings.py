"""Where the local stack lives and which loopback ports it uses.

Read once from the environment; every value has a default that works on a fresh machine.
The ports are deliberately not the products' defaults, so a developer's own Kafka or
ClickHouse on 9092/9000 is never touched.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, replace
from pathlib import Path
from typing import ClassVar

from schemas import env
from schemas.env import nested, setting

REPO_ROOT = Path(__file__).resolve().parents[2]

KAFKA_VERSION = "4.3.1"
ZOOKEEPER_VERSION = "3.9.5"


class SettingsError(env.SettingError, ValueError):
    """A ``VH_*`` stack setting has an unusable value; names the variable and why."""


@dataclass(frozen=True)
class StackSettings:
    """Where the local stack lives and its loopback ports (``make up``, the test fixtures)."""

    USED_BY: ClassVar[str] = "local stack"

    var_dir: Path = setting(
        "VH_VAR_DIR", REPO_ROOT / "var", "data, logs and pids of the local stack", shown="`var/`"
    )
    cache_dir: Path = setting(
        "VH_CACHE_DIR", REPO_ROOT / "var" / "cache", "the Kafka jars", shown="`var/cache/`"
    )
    kafka_port: int = setting("VH_KAFKA_PORT", 19092, "local Kafka's client port", kind="port")
    kafka_controller_port: int = setting(
        "VH_KAFKA_CONTROLLER_PORT", 19093, "local Kafka's KRaft controller port", kind="port"
    )
    kafka_heap: str = setting("VH_KAFKA_HEAP", "768m", "local Kafka's JVM heap")
    clickhouse: env.ClickHouseSettings = nested(env.ClickHouseSettings)
    clickhouse_http_port: int = setting(
        "VH_CLICKHOUSE_HTTP_PORT", 18123, "local ClickHouse's HTTP port", kind="port"
    )
    clickhouse_binary: str = setting(
        "VH_CLICKHOUSE_BINARY", "/usr/sbin/clickhouse-server", "the ClickHouse server binary"
    )

    @property
    def kafka_bootstrap(self) -> str:
        return f"127.0.0.1:{self.kafka_port}"

    @property
    def clickhouse_port(self) -> int:
        """The local server's native port: ``VH_CLICKHOUSE_PORT``, as clients read it."""
        return self.clickhouse.port

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> StackSettings:
        """Raises SettingsError naming the variable when a port is not a port."""
        source = os.environ if environ is None else environ
        stack = env.load(cls, source, error=SettingsError)
        if not env.is_set(source, "VH_CACHE_DIR"):  # follows VH_VAR_DIR unless set
            stack = replace(stack, cache_dir=stack.var_dir / "cache")
        return stack
