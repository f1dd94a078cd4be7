"""API settings, read once at start-up from the environment (tests pass an explicit environ)."""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass
from typing import ClassVar

from schemas import env
from schemas.env import ClickHouseSettings, SettingError, nested, setting


class ConfigError(SettingError, ValueError):
    """A setting has an unusable value; names the variable, the value and why."""


@dataclass(frozen=True)
class ApiConfig:
    """Everything the query API reads from its environment (the README's table)."""

    USED_BY: ClassVar[str] = "API"

    clickhouse: ClickHouseSettings = nested(ClickHouseSettings)
    host: str = setting("VH_API_HOST", "127.0.0.1", "listen address")
    port: int = setting("VH_API_PORT", 8000, "listen port", kind="port")
    pool_size: int = setting("VH_API_POOL_SIZE", 8, "ClickHouse clients per process", minimum=1)
    default_limit: int = setting(
        "VH_API_DEFAULT_LIMIT", 100, "visits per page when `limit` is not given", minimum=1
    )
    max_limit: int = setting("VH_API_MAX_LIMIT", 500, "largest `limit` accepted", minimum=1)
    rate_limit: float = setting(
        "VH_API_RATE_LIMIT", 20.0, "per-token requests per second", minimum=0.0, exclusive=True
    )
    rate_burst: int = setting("VH_API_RATE_BURST", 40, "per-token burst", minimum=1)
    token_refresh_seconds: float = setting(
        "VH_API_TOKEN_REFRESH_SECONDS",
        5.0,
        "token reload interval (the revocation delay)",
        minimum=0.0,
        exclusive=True,
    )
    query_timeout_seconds: int = setting(
        "VH_API_QUERY_TIMEOUT_SECONDS", 10, "per-query time limit", minimum=1
    )

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
        config = env.load(cls, os.environ if environ is None else environ, error=ConfigError)
        if config.default_limit > config.max_limit:
            raise ConfigError(
                "VH_API_DEFAULT_LIMIT",
                str(config.default_limit),
                f"exceeds VH_API_MAX_LIMIT={config.max_limit}",
            )
        return config
