"""JSON log lines: one object per line, configured only by entry points (``__main__``)."""

from __future__ import annotations

import json
import logging
import sys
from datetime import UTC, datetime
from typing import Any

access_logger = logging.getLogger("query_api.access")

# Fields an access record may carry; anything else on a LogRecord is logging's own.
_FIELDS = ("method", "route", "path", "status", "duration_ms", "token_id", "client")


class JsonFormatter(logging.Formatter):
    """``{"ts", "level", "logger", "message", ...extra fields}``; exceptions as text."""

    def format(self, record: logging.LogRecord) -> str:
        out: dict[str, Any] = {
            "ts": datetime.fromtimestamp(record.created, tz=UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname.lower(),
            "logger": record.name,
            "message": record.getMessage(),
        }
        for name in _FIELDS:
            if name in record.__dict__:
                out[name] = record.__dict__[name]
        if record.exc_info:
            out["exception"] = self.formatException(record.exc_info)
        return json.dumps(out, default=str)


def configure(level: str = "INFO") -> None:
    """Send every logger's records to stderr as JSON (uvicorn's own access log is disabled)."""
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(JsonFormatter())
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level)


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
