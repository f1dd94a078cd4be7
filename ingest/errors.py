"""Errors of the ingest package; each carries what an operator needs to act."""

from __future__ import annotations

from typing import TYPE_CHECKING

from schemas.env import SettingError

if TYPE_CHECKING:
    from ingest.rows import KafkaCoordinates


class IngestError(Exception):
    """Base class of everything :mod:`ingest` raises."""


class ConfigError(IngestError, SettingError):
    """A ``VH_*`` ingest setting has an unusable value (``name``, ``value``, ``reason``)."""


class ClickHouseUnavailable(IngestError):
    """ClickHouse refused or failed a call; retrying later may succeed.

    ``endpoint`` is ``host:port`` so that the message tells the operator where to look.
    """

    def __init__(self, endpoint: str, cause: BaseException) -> None:
        super().__init__(f"ClickHouse at {endpoint} failed: {type(cause).__name__}: {cause}")
        self.endpoint = endpoint
        self.cause = cause


class DeadLetterError(IngestError):
    """A dead letter could not be published to the DLQ topic (the batch must not commit).

    ``source`` names the message whose letter failed (None for the start-up probe).
    """

    def __init__(self, message: str, source: KafkaCoordinates | None) -> None:
        super().__init__(message)
        self.source = source


class DeadLetterQueueUnwritable(IngestError):
    """The same dead letter failed ``attempts`` times while Kafka kept serving its source
    partition: the DLQ topic refuses it (deleted, permission revoked, ...). Retrying forever
    would stall the partition silently, so the worker stops and says so."""

    def __init__(self, topic: str, source: KafkaCoordinates, attempts: int, cause: str) -> None:
        super().__init__(
            f"dead-letter topic {topic!r} refused the letter of {source.topic}[{source.partition}]"
            f" offset {source.offset} {attempts} times ({cause}): check that the topic exists "
            "and that this worker may write to it (and VH_KAFKA_DLQ_TOPIC), then restart; "
            "nothing past that offset was committed"
        )
        self.topic, self.source, self.attempts = topic, source, attempts


class DlqGuardTripped(IngestError):
    """Most recent messages of one partition were dead letters: upstream is probably broken."""

    def __init__(self, topic: str, partition: int, offset: int, dead: int, window: int) -> None:
        super().__init__(
            f"{dead} of the last {window} messages of {topic}[{partition}] (up to offset "
            f"{offset}) were dead letters: stopping instead of draining the topic into the DLQ"
        )
        self.topic, self.partition, self.offset = topic, partition, offset
        self.dead, self.window = dead, window


class EnrichedStreamError(IngestError):
    """Stored visits were not acknowledged by the enriched-stream topic: their batches must
    not commit (they are read, stored again idempotently, and published again)."""
