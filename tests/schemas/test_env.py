"""The VH_* parsing rules every package shares (schemas.env)."""

from __future__ import annotations

import pytest

from schemas import env


class Bad(ValueError):
    def __init__(self, name: str, value: str, reason: str) -> None:
        super().__init__(f"{name}={value!r}: {reason}")
        self.name, self.value, self.reason = name, value, reason


def test_unset_and_blank_mean_the_default_and_whitespace_is_ignored() -> None:
    e = {"A": "  ", "B": " 7 ", "C": " x "}
    assert env.text(e, "A", "d") == "d" and env.text(e, "missing", "d") == "d"
    assert env.text(e, "C", "d") == "x"
    assert env.integer(e, "A", 3, minimum=1, error=Bad) == 3
    assert env.integer(e, "B", 3, minimum=1, error=Bad) == 7
    assert env.number(e, "B", 0.5, minimum=0, error=Bad) == 7.0
    assert env.switch(e, "A", True, error=Bad) is True


@pytest.mark.parametrize(
    ("value", "reason"),
    [("seven", "not an integer"), ("1.5", "not an integer"), ("0", "must be >= 1")],
)
def test_integer_errors_name_the_variable_value_and_reason(value: str, reason: str) -> None:
    with pytest.raises(Bad) as info:
        env.integer({"N": value}, "N", 1, minimum=1, error=Bad)
    assert (info.value.name, info.value.value, info.value.reason) == ("N", value, reason)


@pytest.mark.parametrize("value", ["nan", "-0.1", "x"])
def test_number_refuses_nan_below_minimum_and_text(value: str) -> None:
    with pytest.raises(Bad):
        env.number({"F": value}, "F", 1.0, minimum=0.0, error=Bad)


def test_exclusive_minimum() -> None:
    assert env.number({"F": "0"}, "F", 1.0, minimum=0.0, error=Bad) == 0.0
    with pytest.raises(Bad, match="must be > 0"):
        env.number({"F": "0"}, "F", 1.0, minimum=0.0, error=Bad, exclusive=True)


@pytest.mark.parametrize(
    ("value", "expected"),
    [("on", True), ("ON", True), ("true", True), ("1", True), ("yes", True),
     ("off", False), (" Off ", False), ("false", False), ("0", False), ("no", False)],
)  # fmt: skip
def test_switch(value: str, expected: bool) -> None:
    assert env.switch({"S": value}, "S", not expected, error=Bad) is expected


def test_switch_refuses_anything_else() -> None:
    with pytest.raises(Bad, match="must be on or off"):
        env.switch({"S": "maybe"}, "S", True, error=Bad)


@pytest.mark.parametrize("value", ["visit_history", "_x1", "A" * 64])
def test_identifier_accepts_plain_names(value: str) -> None:
    assert env.identifier({"D": value}, "D", "d", error=Bad) == value


@pytest.mark.parametrize("value", ["1db", "a-b", "a.b", "d b", "x; DROP TABLE t", "a" * 65])
def test_identifier_refuses_anything_that_is_not_a_plain_name(value: str) -> None:
    with pytest.raises(Bad):
        env.identifier({"D": value}, "D", "d", error=Bad)


@pytest.mark.parametrize(
    ("value", "ok"), [("1", True), ("65535", True), ("0", False), ("65536", False)]
)
def test_port_range(value: str, ok: bool) -> None:
    if ok:
        assert env.port({"P": value}, "P", 80, error=Bad) == int(value)
    else:
        with pytest.raises(Bad):
            env.port({"P": value}, "P", 80, error=Bad)


def test_every_package_raises_its_own_setting_error() -> None:
    """One base (name, value, reason); each package's callers keep catching their own type."""
    from deploy.local.settings import SettingsError
    from enrich.errors import ConfigError as EnrichConfigError
    from enrich.errors import EnrichError
    from ingest.errors import ConfigError as IngestConfigError
    from ingest.errors import IngestError
    from query_api.config import ConfigError as ApiConfigError

    for kind, base in (
        (IngestConfigError, IngestError),
        (EnrichConfigError, EnrichError),
        (ApiConfigError, ValueError),
        (SettingsError, ValueError),
    ):
        error = kind("VH_X", "bad", "why")
        assert isinstance(error, env.SettingError) and isinstance(error, base)
        assert (str(error), error.name, error.value, error.reason) == (
            "VH_X='bad': why",
            "VH_X",
            "bad",
            "why",
        )


def test_clickhouse_settings_shared_by_worker_and_api() -> None:
    assert env.clickhouse({}, error=Bad) == env.ClickHouseSettings()
    got = env.clickhouse(
        {"VH_CLICKHOUSE_HOST": " ch ", "VH_CLICKHOUSE_PORT": "9000",
         "VH_CLICKHOUSE_PASSWORD": " s3cret ", "VH_CLICKHOUSE_DATABASE": "vh"},
        error=Bad,
    )  # fmt: skip
    assert got == env.ClickHouseSettings("ch", 9000, "default", " s3cret ", "vh")
    with pytest.raises(Bad) as info:
        env.clickhouse({"VH_CLICKHOUSE_DATABASE": "a-b"}, error=Bad)
    assert info.value.name == "VH_CLICKHOUSE_DATABASE"
