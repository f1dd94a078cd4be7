"""API settings, read once at start-up from the environment (tests pass an explicit environ)."""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from dataclasses import dataclass

_IDENT = re.compile(r"^[A-Za-z_][A-Za-z0-9_]{0,63}$")


class ConfigError(ValueError):
    """A setting has an unusable value; names the variable, the value and why."""

    def __init__(self, name: str, value: str, reason: str) -> None:
        super().__init__(f"{name}={value!r}: {reason}")
        self.name, self.value, self.reason = name, value, reason


def _int(env: Mapping[str, str], name: str, default: int, minimum: int = 1) -> int:
    raw = env.get(name, "").strip()
    if not raw:
        return default
    try:
        value = int(raw)
    except ValueError:
        raise ConfigError(name, raw, "not an integer") from None
    if value < minimum:
        raise ConfigError(name, raw, f"must be >= {minimum}")
    return value


def _float(env: Mapping[str, str], name: str, default: float) -> float:
    raw = env.get(name, "").strip()
    if not raw:
        return default
    try:
        value = float(raw)
    except ValueError:
        raise ConfigError(name, raw, "not a number") from None
    if not value > 0:  # also rejects NaN
        raise ConfigError(name, raw, "must be > 0")
    return value


@dataclass(frozen=True)
class ApiConfig:
    """Everything the query API reads from its environment (see docs/api.md for the table)."""

    clickhouse_host: str = "127.0.0.1"
    clickhouse_port: int = 19000
    clickhouse_user: str = "default"
    clickhouse_password: str = ""
    clickhouse_database: str = "visit_history"
    host: str = "127.0.0.1"
    port: int = 8000
    pool_size: int = 8
    default_limit: int = 100
    max_limit: int = 500
    rate_limit: float = 20.0
    rate_burst: int = 40
    token_refresh_seconds: float = 5.0
    query_timeout_seconds: int = 10

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> ApiConfig:
        """Build from ``environ`` (default: ``os.environ``). Raises ConfigError on bad values."""
        env = os.environ if environ is None else environ
        database = env.get("VH_CLICKHOUSE_DATABASE", "").strip() or cls.clickhouse_database
        if not _IDENT.match(database):
            # The database name is spliced into SQL text (it cannot be a bound parameter).
            raise ConfigError("VH_CLICKHOUSE_DATABASE", database, "must be a plain identifier")
        default_limit = _int(env, "VH_API_DEFAULT_LIMIT", cls.default_limit)
        max_limit = _int(env, "VH_API_MAX_LIMIT", cls.max_limit)
        if default_limit > max_limit:
            raise ConfigError(
                "VH_API_DEFAULT_LIMIT", str(default_limit), f"exceeds VH_API_MAX_LIMIT={max_limit}"
            )
        return cls(
            clickhouse_host=env.get("VH_CLICKHOUSE_HOST", "").strip() or cls.clickhouse_host,
            clickhouse_port=_int(env, "VH_CLICKHOUSE_PORT", cls.clickhouse_port),
            clickhouse_user=env.get("VH_CLICKHOUSE_USER", "").strip() or cls.clickhouse_user,
            clickhouse_password=env.get("VH_CLICKHOUSE_PASSWORD", cls.clickhouse_password),
            clickhouse_database=database,
            host=env.get("VH_API_HOST", "").strip() or cls.host,
            port=_int(env, "VH_API_PORT", cls.port),
            pool_size=_int(env, "VH_API_POOL_SIZE", cls.pool_size),
            default_limit=default_limit,
            max_limit=max_limit,
            rate_limit=_float(env, "VH_API_RATE_LIMIT", cls.rate_limit),
            rate_burst=_int(env, "VH_API_RATE_BURST", cls.rate_burst),
            token_refresh_seconds=_float(
                env, "VH_API_TOKEN_REFRESH_SECONDS", cls.token_refresh_seconds
            ),
            query_timeout_seconds=_int(
                env, "VH_API_QUERY_TIMEOUT_SECONDS", cls.query_timeout_seconds
            ),
        )
