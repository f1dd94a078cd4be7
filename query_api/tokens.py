"""API tokens: the in-memory store the API checks requests against, and the admin CLI.

Only ``sha256(secret)`` is stored. The API loads all tokens at start and reloads them every
``VH_API_TOKEN_REFRESH_SECONDS``, so a new or revoked token takes effect within that time.

Command line (``vh.tokens``)::

    vh tokens create --tenant acme-prod --name "billing backend"
    vh tokens list
    vh tokens revoke TOKEN_ID
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
import time
import uuid
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

Execute = Callable[[str, Mapping[str, Any]], Sequence[tuple[Any, ...]]]

SECRET_PREFIX = "vh_"


def hash_secret(secret: str) -> str:
    """sha256 hex of a token secret, as stored in ``api_tokens.token_hash``."""
    return hashlib.sha256(secret.encode("utf-8", "surrogatepass")).hexdigest()


@dataclass(frozen=True, slots=True)
class Token:
    """A live token: who it is and the one tenant it may read or erase."""

    token_id: str
    tenant: str
    name: str
    token_hash: str


def _latest(database: str) -> str:
    # argMax per token_id: the newest version wins whether or not ClickHouse merged yet.
    return (
        "SELECT token_id, argMax(tenant, version), argMax(token_hash, version),"
        " argMax(name, version), argMax(created_at, version), argMax(revoked, version)"
        f" FROM {database}.api_tokens GROUP BY token_id ORDER BY token_id"
    )


class TokenStore:
    """Live tokens by hash, replaced wholesale on each :meth:`refresh` (atomic for readers).

    ``clock`` (monotonic seconds; injectable for tests) dates each successful refresh, so
    :meth:`age` says how stale the tokens are: a revocation is only as fresh as they are.
    """

    def __init__(self, database: str, clock: Callable[[], float] = time.monotonic) -> None:
        self._database = database
        self._clock = clock
        self._by_hash: dict[str, Token] = {}
        self._refreshed_at: float | None = None

    @property
    def loaded(self) -> bool:
        """True once a refresh succeeded (the tokens are known at all)."""
        return self._refreshed_at is not None

    def age(self) -> float | None:
        """Seconds since the last successful refresh; None before the first."""
        if self._refreshed_at is None:
            return None
        return max(0.0, self._clock() - self._refreshed_at)

    def refresh(self, execute: Execute) -> int:
        """Reload from ClickHouse; returns how many tokens are live. Raises what execute raises
        (and then keeps the previous tokens and their age)."""
        fresh = {}
        for token_id, tenant, token_hash, name, _created, revoked in execute(
            _latest(self._database), {}
        ):
            if not revoked:
                fresh[token_hash] = Token(token_id, tenant, name, token_hash)
        self._by_hash = fresh
        self._refreshed_at = self._clock()
        return len(fresh)

    def authenticate(self, secret: str) -> Token | None:
        """The live token with this secret, or None.

        The lookup is by sha256 of the secret, so its timing tells nothing usable about any
        stored secret; compare_digest keeps the final comparison constant-time regardless.
        """
        digest = hash_secret(secret)
        token = self._by_hash.get(digest)
        if token is None or not hmac.compare_digest(token.token_hash, digest):
            return None
        return token


def create(execute: Execute, database: str, tenant: str, name: str) -> tuple[str, str]:
    """Insert a new token; returns (token_id, secret). The secret is not stored anywhere."""
    token_id = uuid.uuid4().hex[:12]
    secret = SECRET_PREFIX + secrets.token_urlsafe(32)
    execute(
        f"INSERT INTO {database}.api_tokens"
        " (token_id, tenant, token_hash, name, created_at, revoked, version)"
        " SELECT %(id)s, %(tenant)s, %(hash)s, %(name)s, now(), 0, %(version)s",
        {
            "id": token_id,
            "tenant": tenant,
            "hash": hash_secret(secret),
            "name": name,
            "version": time.time_ns() // 1_000_000,
        },
    )
    return token_id, secret


def list_tokens(execute: Execute, database: str) -> list[tuple[Any, ...]]:
    """(token_id, tenant, name, created_at, revoked) of every token ever created."""
    return [(r[0], r[1], r[3], r[4], r[5]) for r in execute(_latest(database), {})]


class RevokeNotConfirmed(RuntimeError):
    """A revocation was written, yet reading the token back still shows it live.

    Carries what an operator needs: the token, the version written, and the version (and
    state) the table answers with now, e.g. a concurrent writer with an even later version.
    """

    def __init__(self, token_id: str, written: int, latest: int | None) -> None:
        self.token_id, self.written, self.latest = token_id, written, latest
        super().__init__(
            f"token {token_id!r} is still live after writing its revocation as version"
            f" {written} (latest version now: {latest})"
        )


def _one_token(database: str) -> str:
    # The newest version's fields and the newest version itself, for one token_id.
    return (
        "SELECT argMax(tenant, version), argMax(token_hash, version), argMax(name, version),"
        " argMax(revoked, version), max(version)"
        f" FROM {database}.api_tokens WHERE token_id = %(id)s GROUP BY token_id"
    )


def revoke(
    execute: Execute,
    database: str,
    token_id: str,
    *,
    now_ms: Callable[[], int] = lambda: time.time_ns() // 1_000_000,
) -> bool:
    """Mark a token revoked (a newer version of its row); False if no such token.

    The new version is above every stored one, not just the local clock: a row written by a
    host whose clock ran ahead would otherwise keep winning argMax, and the revocation would
    silently do nothing. Then the token is read back. Raises RevokeNotConfirmed when it is
    still live (a concurrent writer with a later version); raises what execute raises.
    """
    rows = execute(_one_token(database), {"id": token_id})
    if not rows:
        return False
    tenant, token_hash, name, _revoked, latest = rows[0]
    version = max(int(latest) + 1, now_ms())
    execute(
        f"INSERT INTO {database}.api_tokens"
        " (token_id, tenant, token_hash, name, created_at, revoked, version)"
        " SELECT %(id)s, %(tenant)s, %(hash)s, %(name)s, now(), 1, %(version)s",
        {"id": token_id, "tenant": tenant, "hash": token_hash, "name": name, "version": version},
    )
    after = execute(_one_token(database), {"id": token_id})
    if not after or not after[0][3]:
        raise RevokeNotConfirmed(token_id, version, int(after[0][4]) if after else None)
    return True
