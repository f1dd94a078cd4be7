"""Logging set-up of the ``vh`` entry points (the format: schemas/json_logs.py)."""

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
        },
    )
