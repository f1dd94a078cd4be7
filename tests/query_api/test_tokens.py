"""Token store and CLI: secrets shown once and stored hashed; list; revoke."""

from __future__ import annotations

from typing import Any

import pytest

from query_api import tokens
from tests.conftest import ClickHouseEndpoint
from tests.query_api.conftest import environ_for


def test_cli_create_list_revoke(
    clickhouse_endpoint: ClickHouseEndpoint,
    ch_database: str,
    ch_client: Any,
    capsys: pytest.CaptureFixture[str],
) -> None:
    env = environ_for(clickhouse_endpoint, ch_database)
    assert tokens.main(["create", "--tenant", "acme", "--name", "billing"], env) == 0
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

    assert tokens.main(["list"], env) == 0
    listing = capsys.readouterr().out
    assert f"{token_id}\tacme\tbilling\t" in listing and listing.rstrip().endswith("no")
    assert secret not in listing

    assert tokens.main(["revoke", token_id], env) == 0
    assert tokens.main(["revoke", "no-such-id"], env) == 1
    capsys.readouterr()
    store.refresh(lambda sql, params: ch_client.execute(sql, params))
    assert store.authenticate(secret) is None
    assert tokens.main(["list"], env) == 0
    assert capsys.readouterr().out.rstrip().endswith("yes")
