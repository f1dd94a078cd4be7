"""Settings of the commands themselves, and the list of every declared setting the README's
configuration table is rendered from (``make docs``; ``tests/test_repository.py`` checks it).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, ClassVar

from deploy.local.settings import StackSettings
from enrich.config import EnrichConfig
from ingest.config import IngestConfig
from query_api.config import ApiConfig
from schemas import env
from schemas.enriched_stream import EnrichedStreamSettings
from schemas.env import ClickHouseSettings, setting
from webhooks.config import WebhooksConfig


@dataclass(frozen=True, slots=True)
class CommandSettings:
    """What every ``vh`` command reads."""

    USED_BY: ClassVar[str] = "`vh` commands"

    log_level: str = setting("VH_LOG_LEVEL", "INFO", "log level (JSON lines on stderr)")


@dataclass(frozen=True, slots=True)
class RunSettings:
    """``vh run`` (``make run``): the whole pipeline on this machine."""

    USED_BY: ClassVar[str] = "`vh run`"

    demo_rate: float = setting(
        "VH_DEMO_RATE", 200.0, "demo events per second", minimum=0.0, exclusive=True
    )
    demo_webhook_port: int = setting(
        "VH_DEMO_WEBHOOK_PORT",
        18480,
        "loopback port of the demo webhook receiver `vh run` registers for the demo tenant",
        kind="port",
    )


#: (settings class, who reads it), in the order of the README's table.
DOCUMENTED: tuple[tuple[type[Any], str], ...] = (
    (ClickHouseSettings, "all"),
    (IngestConfig, IngestConfig.USED_BY),
    (EnrichedStreamSettings, "worker, `vh webhooks`"),
    (EnrichConfig, EnrichConfig.USED_BY),
    (ApiConfig, ApiConfig.USED_BY),
    (WebhooksConfig, WebhooksConfig.USED_BY),
    (CommandSettings, CommandSettings.USED_BY),
    (RunSettings, RunSettings.USED_BY),
    (StackSettings, StackSettings.USED_BY),
)

BEGIN = "<!-- settings: generated from the declarations by `make docs`; do not edit by hand -->"
END = "<!-- end of settings -->"


def table() -> str:
    """The README's configuration table."""
    return env.markdown_table(DOCUMENTED)


def rewrite(readme: str) -> str:
    """``readme`` with the table between the markers replaced by :func:`table`.

    Raises:
        ValueError: the markers are missing.
    """
    start, end = readme.find(BEGIN), readme.find(END)
    if start < 0 or end < start:
        raise ValueError(f"README has no {BEGIN!r} ... {END!r} block")
    return readme[: start + len(BEGIN)] + "\n\n" + table() + "\n" + readme[end:]
