"""JSON log lines: one object per line, configured only by entry points (``__main__``)."""

from __future__ import annotations

import logging

from schemas import json_logs

access_logger = logging.getLogger("query_api.access")

# The one log format of the project (JSON lines); re-exported for the API's entry point.
JsonFormatter = json_logs.JsonFormatter


def configure(level: str = "INFO") -> None:
    """Send every logger's records to stderr as JSON (uvicorn's own access log is disabled)."""
    json_logs.configure(level)


def access(
    method: str,
    route: str,
    path: str,
    status: int,
    duration_ms: float,
    token_id: str | None,
    client: str | None,
) -> None:
    """One access record. The query string is never logged: it may carry a token."""
    access_logger.info(
        "%s %s %d",
        method,
        route,
        status,
        extra={
            "method": method,
            "route": route,
            "path": path,
            "status": status,
            "duration_ms": round(duration_ms, 3),
            "token_id": token_id,
            "client": client,
        },
    )
