"""``vh tokens create|list|revoke``: the API's tokens (only their SHA-256 is stored)."""

from __future__ import annotations

import argparse
import sys

from query_api.config import ApiConfig
from query_api.pool import ClientPool
from query_api.tokens import RevokeNotConfirmed, create, list_tokens, revoke
from vh.commands import Subparsers, command


def register(sub: Subparsers) -> None:
    parser = command(
        sub,
        "tokens",
        run,
        "create, list or revoke API tokens",
        "Manage the API's tokens in VH_CLICKHOUSE_DATABASE. A new or revoked token takes "
        "effect within VH_API_TOKEN_REFRESH_SECONDS.",
    )
    actions = parser.add_subparsers(dest="action", required=True, metavar="ACTION")
    make = actions.add_parser("create", help="create a token; prints its secret once")
    make.add_argument("--tenant", required=True, help="workspaceId the token may read")
    make.add_argument("--name", required=True, help="what the token is for")
    actions.add_parser("list", help="list tokens (never their secrets)")
    drop = actions.add_parser("revoke", help="revoke a token by id")
    drop.add_argument("token_id")


def run(args: argparse.Namespace) -> int:
    config = ApiConfig.from_env(args.environ)
    pool = ClientPool(config)
    db = config.clickhouse.database
    try:
        if args.action == "create":
            token_id, secret = create(pool.execute, db, args.tenant, args.name)
            print(f"token_id: {token_id}\ntenant:   {args.tenant}\nsecret:   {secret}")
            print("The secret is shown only now; store it safely.", file=sys.stderr)
        elif args.action == "list":
            print("token_id\ttenant\tname\tcreated_at\trevoked")
            for token_id, tenant, name, created, revoked in list_tokens(pool.execute, db):
                print(f"{token_id}\t{tenant}\t{name}\t{created}\t{'yes' if revoked else 'no'}")
        else:
            try:
                found = revoke(pool.execute, db, args.token_id)
            except RevokeNotConfirmed as exc:
                print(f"NOT revoked: {exc}; run revoke again", file=sys.stderr)
                return 1
            if not found:
                print(f"no token with id {args.token_id!r}", file=sys.stderr)
                return 1
            print(f"revoked {args.token_id} (the API stops accepting it within its refresh time)")
    finally:
        pool.close()
    return 0
