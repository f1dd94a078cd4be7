"""ApiConfig: defaults that work locally, every variable read, bad values named."""

from __future__ import annotations

import pytest

from query_api.config import ApiConfig, ConfigError
from schemas.env import ClickHouseSettings


def test_defaults() -> None:
    c = ApiConfig.from_env({})
    assert (c.clickhouse.host, c.clickhouse.port, c.clickhouse.database) == (
        "127.0.0.1",
        19000,
        "visit_history",
    )
    assert (c.host, c.port, c.default_limit, c.max_limit) == ("127.0.0.1", 8000, 100, 500)


def test_every_variable_is_read() -> None:
    c = ApiConfig.from_env(
        {
            "VH_CLICKHOUSE_HOST": "ch",
            "VH_CLICKHOUSE_PORT": "9000",
            "VH_CLICKHOUSE_USER": "api",
            "VH_CLICKHOUSE_PASSWORD": "pw",
            "VH_CLICKHOUSE_DATABASE": "vh",
            "VH_API_HOST": "0.0.0.0",
            "VH_API_PORT": "9999",
            "VH_API_POOL_SIZE": "3",
            "VH_API_DEFAULT_LIMIT": "10",
            "VH_API_MAX_LIMIT": "50",
            "VH_API_RATE_LIMIT": "2.5",
            "VH_API_RATE_BURST": "5",
            "VH_API_TOKEN_REFRESH_SECONDS": "1",
            "VH_API_QUERY_TIMEOUT_SECONDS": "3",
        }
    )
    assert c == ApiConfig(
        ClickHouseSettings("ch", 9000, "api", "pw", "vh"),
        "0.0.0.0",
        9999,
        3,
        10,
        50,
        2.5,
        5,
        1.0,
        3,
    )


@pytest.mark.parametrize(
    ("env", "name"),
    [
        ({"VH_API_PORT": "http"}, "VH_API_PORT"),
        ({"VH_API_POOL_SIZE": "0"}, "VH_API_POOL_SIZE"),
        ({"VH_API_RATE_LIMIT": "nan"}, "VH_API_RATE_LIMIT"),
        ({"VH_CLICKHOUSE_DATABASE": "db; DROP"}, "VH_CLICKHOUSE_DATABASE"),
        ({"VH_API_DEFAULT_LIMIT": "600"}, "VH_API_DEFAULT_LIMIT"),
    ],
)
def test_bad_values_name_the_variable(env: dict[str, str], name: str) -> None:
    with pytest.raises(ConfigError) as err:
        ApiConfig.from_env(env)
    assert err.value.name == name


@pytest.mark.parametrize(("refresh", "stale"), [("5", 60.0), ("0.2", 60.0), ("30", 300.0)])
def test_tokens_are_stale_after_ten_refreshes_and_never_under_a_minute(
    refresh: str, stale: float
) -> None:
    config = ApiConfig.from_env({"VH_API_TOKEN_REFRESH_SECONDS": refresh})
    assert config.token_stale_seconds == stale
