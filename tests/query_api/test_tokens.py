"""Token store and CLI: secrets shown once and stored hashed; list; revoke, whatever the
creating host's clock said, confirmed by reading the token back."""

from __future__ import annotations

import time
from typing import Any

import pytest

from query_api import tokens
from query_api.pool import ClientPool
from tests.support.api import environ_for
from tests.support.services import ClickHouseEndpoint
from vh.main import main as cli


def test_cli_create_list_revoke(
    clickhouse_endpoint: ClickHouseEndpoint,
    ch_database: str,
    ch_client: Any,
    capsys: pytest.CaptureFixture[str],
) -> None:
    env = environ_for(clickhouse_endpoint, ch_database)
    assert cli(["tokens", "create", "--tenant", "acme", "--name", "billing"], env) == 0
    out = capsys.readouterr().out
    fields = dict(line.split(":", 1) for line in out.strip().splitlines())
    token_id, secret = fields["token_id"].strip(), fields["secret"].strip()
    assert secret.startswith("vh_") and len(secret) > 40

    stored = ch_client.execute("SELECT token_hash, tenant, name FROM api_tokens")
    assert stored == [(tokens.hash_secret(secret), "acme", "billing")]
    assert secret not in repr(stored)

    store = tokens.TokenStore(ch_database)
    store.refresh(lambda sql, params: ch_client.execute(sql, params))
    found = store.authenticate(secret)
    assert found is not None and (found.token_id, found.tenant) == (token_id, "acme")
    assert store.authenticate(secret + "x") is None

    assert cli(["tokens", "list"], env) == 0
    listing = capsys.readouterr().out
    assert f"{token_id}\tacme\tbilling\t" in listing and listing.rstrip().endswith("no")
    assert secret not in listing

    assert cli(["tokens", "revoke", token_id], env) == 0
    assert cli(["tokens", "revoke", "no-such-id"], env) == 1
    capsys.readouterr()
    store.refresh(lambda sql, params: ch_client.execute(sql, params))
    assert store.authenticate(secret) is None
    assert cli(["tokens", "list"], env) == 0
    assert capsys.readouterr().out.rstrip().endswith("yes")


YEAR_MS = 365 * 86_400_000


def _execute(client: Any) -> tokens.Execute:
    return lambda sql, params: client.execute(sql, params)


def _ahead(client: Any, database: str, token_id: str, version: int) -> None:
    """A live version of the token from a host whose clock runs far ahead."""
    client.execute(
        f"INSERT INTO {database}.api_tokens"
        " (token_id, tenant, token_hash, name, created_at, revoked, version)"
        " SELECT token_id, tenant, token_hash, name, created_at, 0, %(version)s"
        f" FROM {database}.api_tokens WHERE token_id = %(id)s LIMIT 1",
        {"id": token_id, "version": version},
    )


def test_revoke_beats_a_version_written_by_a_clock_ahead(ch_client: Any, ch_database: str) -> None:
    execute = _execute(ch_client)
    token_id, secret = tokens.create(execute, ch_database, "acme", "skewed")
    now = time.time_ns() // 1_000_000
    _ahead(ch_client, ch_database, token_id, now + YEAR_MS)

    assert tokens.revoke(execute, ch_database, token_id) is True
    store = tokens.TokenStore(ch_database)
    store.refresh(execute)
    assert store.authenticate(secret) is None
    (listed,) = [t for t in tokens.list_tokens(execute, ch_database) if t[0] == token_id]
    assert listed[4] == 1  # revoked
    (version,) = ch_client.execute(
        f"SELECT max(version) FROM {ch_database}.api_tokens WHERE token_id = %(id)s",
        {"id": token_id},
    )[0]
    assert version == now + YEAR_MS + 1  # above the newest, not the local clock


def test_revoke_reads_back_and_fails_loudly_when_still_live(
    clickhouse_endpoint: ClickHouseEndpoint,
    ch_database: str,
    ch_client: Any,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    token_id, secret = tokens.create(_execute(ch_client), ch_database, "acme", "contested")
    execute = ClientPool.execute

    def contested(self: ClientPool, sql: str, *args: Any, **kwargs: Any) -> Any:
        # Right after our revocation lands, another writer stores a still later live version.
        rows = execute(self, sql, *args, **kwargs)
        if sql.startswith(f"INSERT INTO {ch_database}.api_tokens") and ", 1, %(version)s" in sql:
            _ahead(ch_client, ch_database, token_id, 2**62)
        return rows

    monkeypatch.setattr(ClientPool, "execute", contested)
    env = environ_for(clickhouse_endpoint, ch_database)
    assert cli(["tokens", "revoke", token_id], env) == 1
    captured = capsys.readouterr()
    assert "revoked" not in captured.out
    assert f"NOT revoked: token {token_id!r} is still live" in captured.err
    store = tokens.TokenStore(ch_database)
    store.refresh(_execute(ch_client))
    assert store.authenticate(secret) is not None  # what the CLI said: not revoked
    monkeypatch.undo()
    assert cli(["tokens", "revoke", token_id], env) == 0  # once the race is over, it holds
    store.refresh(_execute(ch_client))
    assert store.authenticate(secret) is None
