"""Errors of the webhooks package; each carries what an operator needs to act."""

from __future__ import annotations

from schemas.env import SettingError


class WebhooksError(Exception):
    """Base class of everything :mod:`webhooks` raises."""


class ConfigError(WebhooksError, SettingError):
    """A ``VH_WEBHOOKS_*`` setting has an unusable value (``name``, ``value``, ``reason``)."""


class TargetRefused(WebhooksError, ValueError):
    """An endpoint URL this process will not POST to (scheme, or a private address while
    ``VH_WEBHOOKS_ALLOW_PRIVATE`` is off). ``url`` is shown without credentials or query."""

    def __init__(self, url: str, reason: str) -> None:
        super().__init__(f"webhook target {url} refused: {reason}")
        self.url, self.reason = url, reason


class StoreUnavailable(WebhooksError):
    """ClickHouse failed a call of the webhooks side; retrying later may succeed."""

    def __init__(self, endpoint: str, cause: BaseException) -> None:
        super().__init__(f"ClickHouse at {endpoint} failed: {type(cause).__name__}: {cause}")
        self.endpoint, self.cause = endpoint, cause
