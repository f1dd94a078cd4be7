"""Dead letters: the original bytes of a message that can never become a visit, plus why.

Each record on the DLQ topic keeps the source message's key and value byte for byte, and
headers naming the reason (one of ``schemas.raw_event.REASONS``), a human-readable detail,
and the source topic, partition and offset, so that ``vh replay`` can re-publish it and an
operator can find the original. Sends are asynchronous; :meth:`DeadLetterQueue.confirm` waits
for the ones a batch produced before that batch's offsets are committed.

A dead letter must fit the DLQ topic's size limit (``max.message.bytes``, and the producer's
``max_request_size``): a source record close to the limit plus our headers would otherwise be
refused by the broker on every attempt. Such a letter keeps the first bytes of the original
value, and says so: ``vh-dlq-truncated`` holds the original length and
``vh-dlq-original-sha256`` its digest (replay skips truncated letters: their value is gone).

At start-up the worker checks that the topic exists, that it may write to it and that its
size limit leaves room for a letter (:func:`check_topic`, from the topic's metadata: no probe
record, which would trip every "DLQ not empty" alert at each start), so a missing topic or a
missing permission stops it with what to fix instead of stalling every partition later.
"""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Callable, Mapping, Sequence
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
TRUNCATED: Final = "vh-dlq-truncated"
ORIGINAL_SHA256: Final = "vh-dlq-original-sha256"
_MAX_DETAIL: Final = 1000
#: The smallest size limit a DLQ topic may have: our headers and the first KiB of a value.
MIN_RECORD_BYTES: Final = 4096

#: Kafka's default ``max.message.bytes`` (1 MiB + record batch overhead), used when the
#: topic's own value cannot be read (no DescribeConfigs permission).
DEFAULT_MAX_MESSAGE_BYTES: Final = 1_048_588

#: Upper bound of one record's size in a batch of its own: (key, value, headers) -> bytes.
RecordSize = Callable[[bytes | None, bytes, Sequence[tuple[str, bytes]]], int]


@dataclass(frozen=True, slots=True)
class DeadLetterInfo:
    """What the headers of a DLQ record say."""

    reason: str
    detail: str
    source: KafkaCoordinates
    #: Length of the original value when the letter holds only its first bytes, else None.
    truncated_from: int | None = None


@dataclass(frozen=True, slots=True)
class TopicState:
    """What the broker says of the DLQ topic (``kafka_clients.describe_topic``)."""

    exists: bool
    #: ACL operations this client may perform on it (all of them without an authorizer).
    operations: frozenset[str]
    #: Its ``max.message.bytes`` capped by our producer's limit; None when not readable.
    max_record_bytes: int | None
    #: The broker's error for the topic, when not "unknown topic".
    error: str | None = None


def check_topic(topic: str, state: TopicState, bootstrap: str) -> str | None:
    """Why the DLQ topic cannot take dead letters, with what to do; None when it can. Pure."""
    if state.error is not None:
        return (
            f"dead-letter topic {topic!r} on {bootstrap} cannot be described ({state.error}): "
            "grant this worker DESCRIBE and WRITE on it"
        )
    if not state.exists:
        return (
            f"dead-letter topic {topic!r} does not exist on {bootstrap}: create it (e.g. "
            f"kafka-topics.sh --bootstrap-server {bootstrap} --create --topic {topic}), or point "
            "VH_KAFKA_DLQ_TOPIC at an existing one"
        )
    if "WRITE" not in state.operations:
        return (
            f"this worker may not write to dead-letter topic {topic!r} on {bootstrap}: grant "
            f"it WRITE (kafka-acls.sh --add --operation Write --topic {topic} "
            "--allow-principal User:<the worker's principal>)"
        )
    if state.max_record_bytes is not None and state.max_record_bytes < MIN_RECORD_BYTES:
        return (
            f"dead-letter topic {topic!r} takes records of at most {state.max_record_bytes} "
            f"bytes (max.message.bytes): a dead letter needs at least {MIN_RECORD_BYTES}; "
            "raise it (kafka-configs.sh --alter --entity-type topics --entity-name "
            f"{topic} --add-config max.message.bytes=1048588)"
        )
    return None


@dataclass(frozen=True, slots=True)
class PendingLetter:
    """A dead letter handed to the producer, not yet known to be acknowledged."""

    future: Any
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


def fit(
    key: bytes | None,
    value: bytes,
    headers: list[tuple[str, bytes]],
    limit: int,
    size: RecordSize,
) -> tuple[bytes | None, bytes, list[tuple[str, bytes]]]:
    """The letter as sent: unchanged when it fits ``limit`` bytes, else with the value cut
    (and, should the key alone be too large, the key dropped) plus the truncation headers.
    Pure given ``size``.
    """
    if size(key, value, headers) <= limit:
        return key, value, headers
    headers = [
        *headers,
        (TRUNCATED, str(len(value)).encode()),
        (ORIGINAL_SHA256, hashlib.sha256(value).hexdigest().encode()),
    ]
    room = limit - size(key, b"", headers)
    if room < 0:  # a key near the limit: keep the letter, lose the key (its digest is not kept)
        key = None
        room = limit - size(None, b"", headers)
    # Varint lengths make the estimate grow by a byte or two with the value: trim until it fits.
    cut = value[: max(room, 0)]
    while cut and size(key, cut, headers) > limit:
        cut = cut[: len(cut) - max(1, (size(key, cut, headers) - limit))]
    return key, cut, headers


def parse_headers(headers: Sequence[tuple[str, bytes | None]]) -> DeadLetterInfo:
    """Read back :func:`dead_letter_headers` (and the truncation header, if any).

    Raises:
        ValueError: a header is missing or malformed (not a record this project wrote).
    """
    found: Mapping[str, bytes | None] = dict(headers)
    try:
        values = {
            k: (found[k] or b"").decode("utf-8", "replace")
            for k in (REASON, DETAIL, SOURCE_TOPIC, SOURCE_PARTITION, SOURCE_OFFSET)
        }
        truncated = found.get(TRUNCATED)
        return DeadLetterInfo(
            values[REASON],
            values[DETAIL],
            KafkaCoordinates(
                values[SOURCE_TOPIC], int(values[SOURCE_PARTITION]), int(values[SOURCE_OFFSET])
            ),
            None if truncated is None else int(truncated),
        )
    except (KeyError, ValueError) as exc:
        raise ValueError(f"not a dead letter of this project: {exc}") from exc


class DeadLetterQueue:
    """Publishes dead letters to ``topic`` through ``producer`` (a KafkaProducer, not owned).

    Args:
        producer: the DLQ producer (``acks=all``).
        topic: the dead-letter topic.
        max_record_bytes: the largest record the topic and the producer accept.
        record_size: the producer's own size estimate of a record (``kafka_clients``).
        confirm_timeout_s: how long :meth:`confirm` waits for acknowledgements.
    """

    def __init__(
        self,
        producer: Any,
        topic: str,
        *,
        max_record_bytes: int = DEFAULT_MAX_MESSAGE_BYTES,
        record_size: RecordSize | None = None,
        confirm_timeout_s: float = 30.0,
    ) -> None:
        self.producer = producer
        self.topic = topic
        self.max_record_bytes = max_record_bytes
        self._size: RecordSize = record_size or _rough_size
        self.confirm_timeout_s = confirm_timeout_s

    def send(
        self, key: bytes | None, value: bytes, reason: str, detail: str, where: KafkaCoordinates
    ) -> PendingLetter:
        """Queue one dead letter; pass what it returns to :meth:`confirm`.

        Raises:
            DeadLetterError: the producer refused it at once (e.g. buffer full past its timeout).
        """
        headers = dead_letter_headers(reason, detail, where)
        key, value, headers = fit(key, value, headers, self.max_record_bytes, self._size)
        try:
            return PendingLetter(
                self.producer.send(self.topic, value=value, key=key, headers=headers), where
            )
        except Exception as exc:
            raise DeadLetterError(f"cannot queue dead letter of {where}: {exc}", where) from exc

    def confirm(self, letters: Sequence[PendingLetter]) -> None:
        """Block until every letter is acknowledged by the broker (at most the timeout).

        Raises:
            DeadLetterError: one was not, naming the first such letter's source (the caller
                must not commit past it). Kafka being away is one cause among others.
        """
        if not letters:
            return
        try:
            self.producer.flush(timeout=self.confirm_timeout_s)
        except Exception as exc:
            # kafka-python raises KafkaTimeoutError when the broker stays away past the
            # timeout: the letters are merely unconfirmed, which the caller handles like
            # any refusal (read the range again later), never as a crash.
            pending = next((p for p in letters if not p.future.is_done), letters[0])
            raise DeadLetterError(
                f"dead letters not acknowledged within {self.confirm_timeout_s:g} s: {exc}",
                pending.source,
            ) from exc
        for letter in letters:
            try:
                letter.future.get(timeout=0)
            except Exception as exc:
                raise DeadLetterError(
                    f"dead letter of {letter.source} not acknowledged by Kafka: {exc}",
                    letter.source,
                ) from exc


def _rough_size(key: bytes | None, value: bytes, headers: Sequence[tuple[str, bytes]]) -> int:
    # An upper bound close to Kafka's record format: batch header (61), record overhead (21)
    # and a 5-byte length per field; the worker passes kafka-python's own estimate instead.
    fields = 5 * (2 + 2 * len(headers))
    payload = len(key or b"") + len(value) + sum(len(k) + len(v) for k, v in headers)
    return 82 + fields + payload
