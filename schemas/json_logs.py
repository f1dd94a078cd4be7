"""The log line every process of the pipeline writes: one JSON object per line on stderr.

`{"ts": "2026-11-26T02:30:37.813Z", "level": "INFO", "logger": "...", "msg": "...", ...}`
plus the record's `extra=` fields, and `exc` with the traceback text when there is one. One
format for the worker, the API and the commands, so a log shipper parses them all alike.
Only entry points call `configure`; libraries just get a logger.
"""

from __future__ import annotations

import json
import logging
import sys
import time
from collections.abc import Mapping
from typing import Any, Final

# Attributes every LogRecord has; anything else came from `extra=` and is logged as a field.
_STANDARD: Final = frozenset(vars(logging.LogRecord("", 0, "", 0, "", (), None))) | {
    "message",
    "asctime",
    "taskName",
}


class JsonFormatter(logging.Formatter):
    """One JSON object per record: ts, level, logger, msg, the ``extra`` fields, exc."""

    def format(self, record: logging.LogRecord) -> str:
        out: dict[str, Any] = {
            "ts": time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(record.created))
            + f".{int(record.msecs):03d}Z",
            "level": record.levelname,
            "logger": record.name,
            "msg": record.getMessage(),
        }
        for key, value in vars(record).items():
            if key not in _STANDARD and not key.startswith("_"):
                out[key] = value
        if record.exc_info:
            out["exc"] = self.formatException(record.exc_info)
        return json.dumps(out, default=str)


def configure(level: str = "INFO", quiet: Mapping[str, int] | None = None) -> None:
    """Send every logger's records to stderr as JSON lines (idempotent).

    `quiet` raises the level of chatty third-party loggers, e.g. {"kafka": logging.WARNING}.
    """
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(JsonFormatter())
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level)
    for name, name_level in (quiet or {}).items():
        logging.getLogger(name).setLevel(name_level)
