"""``python -m query_api``: serve the API with uvicorn, configured from the environment."""

from __future__ import annotations

import uvicorn

from query_api import logs
from query_api.app import create_app
from query_api.config import ApiConfig


def main() -> None:
    """Read config once, log JSON, serve until stopped."""
    config = ApiConfig.from_env()
    logs.configure()
    uvicorn.run(
        create_app(config),
        host=config.host,
        port=config.port,
        access_log=False,  # ours is JSON and never includes the query string (tokens)
        log_config=None,
        proxy_headers=True,
    )


if __name__ == "__main__":
    main()
