"""Error responses in the Server API v3's two shapes, and the API's JSON response class.

v3 answers GET /visitors errors with ``ErrorPlainResponse`` (``{"error": "..."}``) and the
other routes with ``ErrorResponse`` (``{"error": {"code": ..., "message": ...}}``); each route
declares which it uses. 404 for an unknown visitor is the seed's ``{"visitorId": ...}``.
"""

from __future__ import annotations

import enum
from typing import Any

import msgspec
from starlette.responses import Response

_encoder = msgspec.json.Encoder()


class JSONResponse(Response):
    """JSON via msgspec: several times faster than the stdlib encoder on visit pages."""

    media_type = "application/json"

    def render(self, content: Any) -> bytes:
        return _encoder.encode(content)


class Shape(enum.Enum):
    """Which v3 error body a route answers with."""

    PLAIN = "plain"  # ErrorPlainResponse: GET /visitors/{visitor_id}
    CODED = "coded"  # ErrorResponse: GET /events/{request_id}, DELETE /visitors/{visitor_id}
    V4 = "v4"  # v4's ErrorResponse: the same envelope, snake_case codes (every /v4 route)


#: v3's codes as v4 spells them (v4's ErrorCode); a v4-only code is raised as itself.
_V4_CODES = {
    "RequestCannotBeParsed": "request_cannot_be_parsed",
    "TokenRequired": "secret_api_key_required",
    "TokenNotFound": "secret_api_key_not_found",
    "TooManyRequests": "too_many_requests",
    "RequestNotFound": "event_not_found",
    "VisitorNotFound": "visitor_not_found",
    "Failed": "service_unavailable",
}


class ApiError(Exception):
    """An expected failure with its HTTP status, v3 error code and client-facing message."""

    def __init__(
        self, status: int, code: str, message: str, headers: dict[str, str] | None = None
    ) -> None:
        super().__init__(f"{status} {code}: {message}")
        self.status, self.code, self.message = status, code, message
        self.headers = headers or {}

    def response(self, shape: Shape) -> JSONResponse:
        """The error as the given route shape renders it."""
        body: dict[str, Any]
        if shape is Shape.PLAIN:
            body = {"error": self.message}
        elif shape is Shape.V4:
            body = {"error": {"code": _V4_CODES.get(self.code, self.code), "message": self.message}}
        else:
            body = {"error": {"code": self.code, "message": self.message}}
        return JSONResponse(body, status_code=self.status, headers=self.headers)


def bad_request(message: str) -> ApiError:
    return ApiError(400, "RequestCannotBeParsed", message)


def forbidden(shape: Shape, *, token_given: bool) -> ApiError:
    """403 with v3's texts: the plain route's fixed message, the coded routes' two reasons."""
    if shape is Shape.PLAIN:
        return ApiError(403, "TokenNotFound", "Forbidden (HTTP 403)")
    if shape is Shape.V4:
        if token_given:
            return ApiError(403, "TokenNotFound", "secret API key is not found")
        return ApiError(403, "TokenRequired", "secret API key is required")
    if token_given:
        return ApiError(403, "TokenNotFound", "secret key is not found")
    return ApiError(403, "TokenRequired", "secret key is required")


def too_many_requests(retry_after: int) -> ApiError:
    return ApiError(429, "TooManyRequests", "too many requests", {"Retry-After": str(retry_after)})


def unavailable() -> ApiError:
    # v3's only server-side code is "Failed"; the cause goes to the log, never to the client.
    return ApiError(503, "Failed", "service unavailable, retry later", {"Retry-After": "1"})
