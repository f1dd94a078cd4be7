"""Which token a request carries: v3 clients' and the seed's four ways to send it."""

from __future__ import annotations

from starlette.requests import Request

from query_api.errors import Shape, forbidden
from query_api.tokens import Token, TokenStore

# Headers first: the seed recommends them, and query strings end up in proxies' logs.
_HEADERS = ("Auth-API-Key", "Auth-Token")
_QUERY = ("api_key", "token")


def secret_of(request: Request) -> str | None:
    """The first non-empty credential among the headers, then the query parameters."""
    for name in _HEADERS:
        value = request.headers.get(name, "").strip()
        if value:
            return value
    for name in _QUERY:
        value = request.query_params.get(name, "").strip()
        if value:
            return value
    return None


def authenticate(request: Request, store: TokenStore, shape: Shape) -> Token:
    """The request's live token. Raises ApiError 403 when it is missing or not a live token."""
    secret = secret_of(request)
    token = store.authenticate(secret) if secret is not None else None
    if token is None:
        raise forbidden(shape, token_given=secret is not None)
    return token
