"""The one command: every subcommand a user runs, and what a bad setting becomes."""

from __future__ import annotations

import pytest

from vh.main import main, parser

#: Every command the README promises (issue 12): one `vh` subcommand each.
EXPECTED = (
    "worker", "api", "migrate", "tokens", "replay", "produce-demo", "visitors", "retention",
    "stack", "run", "views", "schema-doc", "report",
)  # fmt: skip


def test_help_lists_every_subcommand(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as done:
        main(["--help"])
    assert done.value.code == 0
    text = capsys.readouterr().out
    assert all(f"    {name}" in text for name in EXPECTED), text


@pytest.mark.parametrize(
    "argv",
    [
        ["tokens", "create", "--tenant", "t", "--name", "n"],
        ["tokens", "list"],
        ["tokens", "revoke", "id"],
        ["stack", "up"],
        ["stack", "down", "--cluster"],
        ["stack", "status"],
        ["stack", "render", "--topology", "t.toml", "--out", "d"],
        ["api", "--workers", "2"],
        ["views", "backfill"],
        ["schema-doc", "--check"],
        ["report", "--tenant", "t", "--days", "7", "--end", "2026-01-31", "--out", "r.html"],
    ],
)
def test_the_subcommands_parse(argv: list[str]) -> None:
    args = parser().parse_args(argv)
    assert callable(args.run)


def test_a_bad_setting_exits_2_naming_it(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["stack", "status"], {"VH_CLICKHOUSE_PORT": "ninety"}) == 2
    assert "VH_CLICKHOUSE_PORT='ninety': not an integer" in capsys.readouterr().err
