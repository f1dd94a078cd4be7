"""API settings, read once at start-up from the environment (tests pass an explicit environ)."""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass

from schemas import env
from schemas.env import SettingError


class ConfigError(SettingError, ValueError):
    """A setting has an unusable value; names the variable, the value and why."""


# Defaults of the VH_CLICKHOUSE_* fields: one place for the worker and the API (schemas.env).
_CLICKHOUSE = env.ClickHouseSettings()


@dataclass(frozen=True)
class ApiConfig:
    """Everything the query API reads from its environment (see docs/api.md for the table)."""

    clickhouse_host: str = _CLICKHOUSE.host
    clickhouse_port: int = _CLICKHOUSE.port
    clickhouse_user: str = _CLICKHOUSE.user
    clickhouse_password: str = _CLICKHOUSE.password
    clickhouse_database: str = _CLICKHOUSE.database
    host: str = "127.0.0.1"
    port: int = 8000
    pool_size: int = 8
    default_limit: int = 100
    max_limit: int = 500
    rate_limit: float = 20.0
    rate_burst: int = 40
    token_refresh_seconds: float = 5.0
    query_timeout_seconds: int = 10

    @property
    def token_stale_seconds(self) -> float:
        """Age of the last good token refresh past which /ready answers 503 ``tokens_stale``.

        Ten missed refreshes, and never under a minute: one slow or failed reload is normal
        (ClickHouse restarting), a revocation still not loaded after that is not.
        """
        return max(60.0, 10 * self.token_refresh_seconds)

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> ApiConfig:
        """Build from ``environ`` (default: ``os.environ``). Raises ConfigError on bad values."""
        source = os.environ if environ is None else environ
        ch = env.clickhouse(source, error=ConfigError)
        default_limit = env.integer(
            source, "VH_API_DEFAULT_LIMIT", cls.default_limit, minimum=1, error=ConfigError
        )
        max_limit = env.integer(
            source, "VH_API_MAX_LIMIT", cls.max_limit, minimum=1, error=ConfigError
        )
        if default_limit > max_limit:
            raise ConfigError(
                "VH_API_DEFAULT_LIMIT", str(default_limit), f"exceeds VH_API_MAX_LIMIT={max_limit}"
            )
        return cls(
            clickhouse_host=ch.host,
            clickhouse_port=ch.port,
            clickhouse_user=ch.user,
            clickhouse_password=ch.password,
            clickhouse_database=ch.database,
            host=env.text(source, "VH_API_HOST", cls.host),
            port=env.port(source, "VH_API_PORT", cls.port, error=ConfigError),
            pool_size=env.integer(
                source, "VH_API_POOL_SIZE", cls.pool_size, minimum=1, error=ConfigError
            ),
            default_limit=default_limit,
            max_limit=max_limit,
            rate_limit=env.number(
                source,
                "VH_API_RATE_LIMIT",
                cls.rate_limit,
                minimum=0.0,
                exclusive=True,
                error=ConfigError,
            ),
            rate_burst=env.integer(
                source, "VH_API_RATE_BURST", cls.rate_burst, minimum=1, error=ConfigError
            ),
            token_refresh_seconds=env.number(
                source,
                "VH_API_TOKEN_REFRESH_SECONDS",
                cls.token_refresh_seconds,
                minimum=0.0,
                exclusive=True,
                error=ConfigError,
            ),
            query_timeout_seconds=env.integer(
                source,
                "VH_API_QUERY_TIMEOUT_SECONDS",
                cls.query_timeout_seconds,
                minimum=1,
                error=ConfigError,
            ),
        )
