"""Where the local stack lives and which loopback ports it uses.

Read once from the environment; every value has a default that works on a fresh machine.
The ports are deliberately not the products' defaults, so a developer's own Kafka or
ClickHouse on 9092/9000 is never touched.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from schemas import env

REPO_ROOT = Path(__file__).resolve().parents[2]

KAFKA_VERSION = "4.3.1"


class SettingsError(env.SettingError, ValueError):
    """A ``VH_*`` stack setting has an unusable value; names the variable and why."""


def _port(environ: Mapping[str, str], name: str, default: int) -> int:
    return env.port(environ, name, default, error=SettingsError)


@dataclass(frozen=True)
class StackSettings:
    var_dir: Path
    cache_dir: Path
    kafka_port: int
    kafka_controller_port: int
    kafka_heap: str
    clickhouse_port: int
    clickhouse_http_port: int
    clickhouse_binary: str

    @property
    def kafka_bootstrap(self) -> str:
        return f"127.0.0.1:{self.kafka_port}"

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> StackSettings:
        """Raises SettingsError naming the variable when a port is not a port."""
        source = os.environ if environ is None else environ
        var_dir = Path(env.text(source, "VH_VAR_DIR", str(REPO_ROOT / "var"))).resolve()
        return cls(
            var_dir=var_dir,
            cache_dir=Path(env.text(source, "VH_CACHE_DIR", str(var_dir / "cache"))).resolve(),
            kafka_port=_port(source, "VH_KAFKA_PORT", 19092),
            kafka_controller_port=_port(source, "VH_KAFKA_CONTROLLER_PORT", 19093),
            kafka_heap=env.text(source, "VH_KAFKA_HEAP", "768m"),
            clickhouse_port=_port(source, "VH_CLICKHOUSE_PORT", 19000),
            clickhouse_http_port=_port(source, "VH_CLICKHOUSE_HTTP_PORT", 18123),
            clickhouse_binary=env.text(
                source, "VH_CLICKHOUSE_BINARY", "/usr/sbin/clickhouse-server"
            ),
        )
