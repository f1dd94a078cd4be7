"""``python -m query_api``: an alias of ``vh api`` (one process), kept for existing scripts."""

from __future__ import annotations

from query_api.config import ApiConfig
from query_api.server import serve

serve(ApiConfig.from_env())
