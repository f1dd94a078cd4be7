"""Logging set-up of every ``vh`` command (the format: schemas/json_logs.py)."""

from __future__ import annotations

import logging

from schemas import json_logs


def configure(level: str = "INFO") -> None:
    """JSON lines on stderr; third-party chatter turned down."""
    json_logs.configure(
        level,
        quiet={
            # kafka-python is chatty at INFO (every coordinator step); its warnings still show.
            "kafka": logging.WARNING,
            # The driver logs a traceback per failed connect; the worker logs each once itself.
            "clickhouse_driver": logging.ERROR,
            # httpx logs every request with its whole URL at INFO: a webhook URL may carry
            # credentials or a token in its query, which our own logs leave out (webhooks.targets).
            "httpx": logging.WARNING,
            "httpcore": logging.WARNING,
        },
    )
