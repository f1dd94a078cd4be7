"""Stack settings: defaults for a fresh machine, and a bad port named instead of a traceback."""

from __future__ import annotations

import pytest

from deploy.local.settings import REPO_ROOT, SettingsError, StackSettings


def test_defaults_work_on_a_fresh_machine() -> None:
    s = StackSettings.from_env({})
    assert s.var_dir == (REPO_ROOT / "var").resolve() and s.cache_dir == s.var_dir / "cache"
    assert (s.kafka_port, s.clickhouse_port, s.kafka_bootstrap) == (19092, 19000, "127.0.0.1:19092")


@pytest.mark.parametrize("value", ["kafka", "0", "70000"])
def test_a_bad_port_names_the_variable(value: str) -> None:
    with pytest.raises(SettingsError) as info:
        StackSettings.from_env({"VH_KAFKA_PORT": value})
    assert info.value.name == "VH_KAFKA_PORT"
