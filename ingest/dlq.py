"""Dead letters: the original bytes of a message that can never become a visit, plus why.

Each record on the DLQ topic keeps the source message's key and value byte for byte, and
headers naming the reason (one of ``schemas.raw_event.REASONS``), a human-readable detail,
and the source topic, partition and offset, so that ``vh replay`` can re-publish it and an
operator can find the original. Sends are asynchronous; :meth:`DeadLetterQueue.confirm` waits
for the ones a batch produced before that batch's offsets are committed.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Final

from ingest.errors import DeadLetterError
from ingest.rows import KafkaCoordinates

logger = logging.getLogger(__name__)

REASON: Final = "vh-dlq-reason"
DETAIL: Final = "vh-dlq-detail"
SOURCE_TOPIC: Final = "vh-dlq-source-topic"
SOURCE_PARTITION: Final = "vh-dlq-source-partition"
SOURCE_OFFSET: Final = "vh-dlq-source-offset"
_MAX_DETAIL: Final = 1000


@dataclass(frozen=True, slots=True)
class DeadLetterInfo:
    """What the headers of a DLQ record say."""

    reason: str
    detail: str
    source: KafkaCoordinates


def dead_letter_headers(
    reason: str, detail: str, where: KafkaCoordinates
) -> list[tuple[str, bytes]]:
    """Kafka headers for one dead letter (values UTF-8). Pure."""
    return [
        (REASON, reason.encode()),
        (DETAIL, detail[:_MAX_DETAIL].encode("utf-8", "replace")),
        (SOURCE_TOPIC, where.topic.encode()),
        (SOURCE_PARTITION, str(where.partition).encode()),
        (SOURCE_OFFSET, str(where.offset).encode()),
    ]


def parse_headers(headers: Sequence[tuple[str, bytes | None]]) -> DeadLetterInfo:
    """Read back :func:`dead_letter_headers`.

    Raises:
        ValueError: a header is missing or malformed (not a record this project wrote).
    """
    found: Mapping[str, bytes | None] = dict(headers)
    try:
        values = {
            k: (found[k] or b"").decode("utf-8", "replace")
            for k in (REASON, DETAIL, SOURCE_TOPIC, SOURCE_PARTITION, SOURCE_OFFSET)
        }
        return DeadLetterInfo(
            values[REASON],
            values[DETAIL],
            KafkaCoordinates(
                values[SOURCE_TOPIC], int(values[SOURCE_PARTITION]), int(values[SOURCE_OFFSET])
            ),
        )
    except (KeyError, ValueError) as exc:
        raise ValueError(f"not a dead letter of this project: {exc}") from exc


class DeadLetterQueue:
    """Publishes dead letters to ``topic`` through ``producer`` (a KafkaProducer, not owned)."""

    def __init__(self, producer: Any, topic: str) -> None:
        self.producer = producer
        self.topic = topic

    def send(
        self, key: bytes | None, value: bytes, reason: str, detail: str, where: KafkaCoordinates
    ) -> Any:
        """Queue one dead letter; return its future (pass it to :meth:`confirm`).

        Raises:
            DeadLetterError: the producer refused it at once (e.g. buffer full past its timeout).
        """
        try:
            return self.producer.send(
                self.topic, value=value, key=key, headers=dead_letter_headers(reason, detail, where)
            )
        except Exception as exc:
            raise DeadLetterError(f"cannot queue dead letter of {where}: {exc}") from exc

    def confirm(self, futures: Sequence[Any], timeout_s: float = 30.0) -> None:
        """Block until every future is acknowledged by the broker.

        Raises:
            DeadLetterError: one was not (the caller must not commit past its source offset).
        """
        if not futures:
            return
        self.producer.flush(timeout=timeout_s)
        for future in futures:
            try:
                future.get(timeout=0)
            except Exception as exc:
                raise DeadLetterError(f"dead letter not acknowledged by Kafka: {exc}") from exc
