"""Which token a request carries: v3 clients' and the seed's four ways to send it."""

from __future__ import annotations

from starlette.requests import Request

from query_api.errors import Shape, forbidden
from query_api.tokens import Token, TokenStore

# Headers first: the seed recommends them, and query strings end up in proxies' logs.
_HEADERS = ("Auth-API-Key", "Auth-Token")
_QUERY = ("api_key", "token")


def credentials_of(request: Request) -> list[str]:
    """Every non-empty credential the request carries: headers, then query parameters.

    Repeated headers and parameters count one by one, so a second copy cannot hide.
    """
    found = [v.strip() for name in _HEADERS for v in request.headers.getlist(name)]
    found += [v.strip() for name in _QUERY for v in request.query_params.getlist(name)]
    return [v for v in found if v]


def secret_of(request: Request) -> str | None:
    """The request's one secret; None when it sends none or several that differ.

    Several different credentials (a valid header next to a wrong query token, or two
    tenants' tokens) are refused rather than resolved by precedence: whichever one the client
    meant, the request is ambiguous, and picking one would let a leaked-but-revoked or another
    tenant's token ride along unnoticed.
    """
    presented = set(credentials_of(request))
    return presented.pop() if len(presented) == 1 else None


def authenticate(request: Request, store: TokenStore, shape: Shape) -> Token:
    """The request's live token. Raises ApiError 403 when it is missing, not a live token,
    or when the request carries several different credentials."""
    secret = secret_of(request)
    token = store.authenticate(secret) if secret is not None else None
    if token is None:
        raise forbidden(shape, token_given=bool(credentials_of(request)))
    return token


def bearer_of(request: Request) -> list[str]:
    """Every non-empty ``Authorization: Bearer <secret>`` secret the request carries (v4)."""
    found = []
    for value in request.headers.getlist("Authorization"):
        scheme, _, secret = value.strip().partition(" ")
        if scheme.lower() == "bearer" and secret.strip():
            found.append(secret.strip())
    return found


def authenticate_bearer(request: Request, store: TokenStore, shape: Shape) -> Token:
    """v4's way: the live token of the request's one Bearer secret. Raises ApiError 403 when
    it sends none (``secret_api_key_required``), several that differ, or one that is not a
    live token (``secret_api_key_not_found``)."""
    presented = set(bearer_of(request))
    token = store.authenticate(next(iter(presented))) if len(presented) == 1 else None
    if token is None:
        raise forbidden(shape, token_given=bool(presented))
    return token
