"""Dead letters: fitting the topic's size limit, the start-up check of the topic, and what an
unconfirmed send becomes. Pure parts, plus the producer's own size estimate (kafka-python)."""

from __future__ import annotations

import hashlib
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st
from kafka.errors import KafkaTimeoutError

from ingest import dlq
from ingest.errors import DeadLetterError
from ingest.kafka_clients import record_size
from ingest.rows import KafkaCoordinates

WHERE = KafkaCoordinates("visits.raw", 3, 41)
HEADERS = dlq.dead_letter_headers("oversize", "2000000 bytes > 1048576", WHERE)
ALL_OPS = frozenset({"READ", "WRITE", "DESCRIBE"})


def test_a_letter_that_fits_is_sent_byte_for_byte() -> None:
    key, value, headers = dlq.fit(b"k", b"x" * 1000, HEADERS, 1_048_588, record_size)
    assert (key, value, headers) == (b"k", b"x" * 1000, HEADERS)


def test_a_letter_over_the_limit_keeps_the_first_bytes_and_says_so() -> None:
    original = bytes(range(256)) * 4096  # 1 MiB: fits the source topic, not with our headers
    limit = 1_048_588
    assert record_size(b"k", original, HEADERS) > limit
    key, value, headers = dlq.fit(b"k", original, HEADERS, limit, record_size)
    assert record_size(key, value, headers) <= limit
    assert key == b"k" and original.startswith(value) and len(value) > limit - 2000
    info = dlq.parse_headers(headers)
    assert info.truncated_from == len(original) and info.source == WHERE
    assert dict(headers)[dlq.ORIGINAL_SHA256] == hashlib.sha256(original).hexdigest().encode()


@given(
    key=st.one_of(st.none(), st.binary(max_size=6000)),
    size=st.integers(min_value=0, max_value=20_000),
    limit=st.integers(min_value=dlq.MIN_RECORD_BYTES, max_value=12_000),
)
def test_every_letter_fits_any_allowed_limit(key: bytes | None, size: int, limit: int) -> None:
    value = b"v" * size
    out_key, out_value, headers = dlq.fit(key, value, HEADERS, limit, record_size)
    assert record_size(out_key, out_value, headers) <= limit
    assert value.startswith(out_value)
    if out_value != value:
        assert dlq.parse_headers(headers).truncated_from == size


@pytest.mark.parametrize(
    ("state", "expected"),
    [
        (dlq.TopicState(True, ALL_OPS, 1_048_588), None),
        (dlq.TopicState(True, ALL_OPS, None), None),
        (dlq.TopicState(False, ALL_OPS, None), "does not exist on b:9092: create it"),
        (dlq.TopicState(True, frozenset({"READ"}), 1_048_588), "may not write"),
        (dlq.TopicState(True, ALL_OPS, 1000), "at most 1000 bytes"),
        (
            dlq.TopicState(False, frozenset(), None, "TopicAuthorizationFailedError"),
            "cannot be described",
        ),
    ],
)
def test_the_start_up_check_names_what_to_fix(state: dlq.TopicState, expected: str | None) -> None:
    problem = dlq.check_topic("visits.dlq", state, "b:9092")
    if expected is None:
        assert problem is None
    else:
        assert problem is not None and expected in problem and "visits.dlq" in problem


class _Future:
    def __init__(self, done: bool, error: Exception | None = None) -> None:
        self.is_done = done
        self.error = error

    def get(self, timeout: float) -> None:
        if self.error is not None:
            raise self.error


class _Producer:
    """kafka-python's flush(timeout) raises KafkaTimeoutError when the broker stays away."""

    def __init__(self, flush_error: Exception | None) -> None:
        self.flush_error = flush_error

    def flush(self, timeout: float) -> None:
        if self.flush_error is not None:
            raise self.flush_error


def _letter(offset: int, done: bool, error: Exception | None = None) -> dlq.PendingLetter:
    return dlq.PendingLetter(_Future(done, error), KafkaCoordinates("raw", 0, offset))


def test_a_flush_that_times_out_is_a_dead_letter_error_naming_the_letter() -> None:
    # Before: the KafkaTimeoutError escaped confirm() and ended the worker's process.
    queue: Any = dlq.DeadLetterQueue(_Producer(KafkaTimeoutError("flush timed out")), "dlq")
    with pytest.raises(DeadLetterError) as raised:
        queue.confirm([_letter(5, True), _letter(6, False)])
    assert raised.value.source == KafkaCoordinates("raw", 0, 6)


def test_a_refused_letter_is_a_dead_letter_error_naming_it() -> None:
    queue: Any = dlq.DeadLetterQueue(_Producer(None), "dlq")
    with pytest.raises(DeadLetterError) as raised:
        queue.confirm([_letter(5, True), _letter(9, True, RuntimeError("too large"))])
    assert raised.value.source == KafkaCoordinates("raw", 0, 9)
    queue.confirm([_letter(5, True)])  # acknowledged: nothing raised
