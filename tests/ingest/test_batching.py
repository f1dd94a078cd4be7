"""Per-partition batches by size and age, driven by a fake clock; partition state's drop."""

from __future__ import annotations

import pytest

from ingest.batching import Batch, BatchPolicy
from ingest.dlq_guard import DlqGuard
from ingest.partitions import Partitions
from ingest.rows import Row


class FakeClock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


class Open:
    """Partitions with open batches, filled the way the worker's flow fills them."""

    def __init__(self, policy: BatchPolicy) -> None:
        self.policy = policy
        self.parts = Partitions(DlqGuard(0.5, 10).new_window)

    def add(self, topic: str, partition: int, offset: int, row: Row | None) -> Batch:
        part = self.parts[(topic, partition)]
        if part.batch is None:
            part.batch = self.policy.start(topic, partition, offset)
        part.batch.add(offset, row)
        return part.batch

    def due(self) -> list[tuple[str, int]]:
        return [b.key for b in self.policy.due(self.parts.batches())]

    def take(self, key: tuple[str, int]) -> Batch | None:
        part = self.parts[key]
        batch, part.batch = part.batch, None
        return batch


def test_due_by_size_per_partition() -> None:
    clock = FakeClock()
    batches = Open(BatchPolicy(3, 10.0, clock))
    for offset in (5, 6, 7):
        batches.add("t", 0, offset, ("row", offset))
    batches.add("t", 1, 0, ("row", 0))
    full = [batches.policy.is_full(b) for b in batches.parts.batches()]
    assert full == [True, False]
    assert batches.due() == [("t", 0)]
    batch = batches.take(("t", 0))
    assert batch is not None
    assert (batch.first_offset, batch.last_offset, batch.commit_offset) == (5, 7, 8)
    assert batch.dedup_token() == "t-0-5-7"
    assert [r[1] for r in batch.rows] == [5, 6, 7]


def test_due_by_age_oldest_first() -> None:
    clock = FakeClock()
    batches = Open(BatchPolicy(1000, 1.0, clock))
    batches.add("t", 1, 0, ("a",))
    clock.now += 0.5
    batches.add("t", 0, 0, ("b",))
    assert batches.due() == []
    assert batches.policy.seconds_until_due(batches.parts.batches()) == pytest.approx(0.5)
    clock.now += 0.6
    assert batches.due() == [("t", 1)]
    clock.now += 0.5
    assert batches.due() == [("t", 1), ("t", 0)]


def test_messages_without_rows_still_count_and_commit() -> None:
    batches = Open(BatchPolicy(2, 10.0, FakeClock()))
    batches.add("t", 0, 10, None)  # a dead letter
    batches.add("t", 0, 11, ("row",))
    batch = batches.take(("t", 0))
    assert batch is not None and batch.messages == 2 and len(batch.rows) == 1
    assert batch.commit_offset == 12


def test_a_batch_is_identical_when_rebuilt_from_the_same_offsets() -> None:
    def build() -> tuple[str, list[Row]]:
        batches = Open(BatchPolicy(3, 10.0, FakeClock()))
        for offset in (3, 4, 5):
            batches.add("t", 2, offset, (offset,))
        batch = batches.take(("t", 2))
        assert batch is not None
        return batch.dedup_token("0f3c"), batch.rows

    assert build() == build()


def test_the_token_names_the_topic_incarnation() -> None:
    # A topic deleted and created again restarts at offset 0: the same range of the new
    # topic must not repeat the old topic's token (the server would drop it as a retry).
    batches = Open(BatchPolicy(3, 10.0, FakeClock()))
    batches.add("t", 0, 0, ("row",))
    batch = batches.take(("t", 0))
    assert batch is not None
    old, new = batch.dedup_token("aa11"), batch.dedup_token("bb22")
    assert old != new and old == "t~aa11-0-0-0"


def test_offsets_must_increase() -> None:
    batches = Open(BatchPolicy(10, 10.0, FakeClock()))
    batches.add("t", 0, 5, None)
    with pytest.raises(ValueError, match="offset 5 <= 5"):
        batches.add("t", 0, 5, None)


def test_zero_age_is_due_at_once_and_pending_rows_counted() -> None:
    batches = Open(BatchPolicy(10, 0.0, FakeClock()))
    batches.add("t", 0, 0, ("a",))
    batches.add("t", 1, 0, None)
    assert batches.parts.rows_pending() == 1 and len(batches.parts.batches()) == 2
    assert set(batches.due()) == {("t", 0), ("t", 1)}


def test_drop_forgets_the_batch_letters_and_window_and_says_where_to_rewind() -> None:
    batches = Open(BatchPolicy(10, 10.0, FakeClock()))
    batches.add("t", 0, 40, ("a",))
    batches.add("t", 0, 41, None)
    part = batches.parts[("t", 0)]
    part.letters.append(object())  # type: ignore[arg-type]
    part.window.outcomes.append(True)
    part.uncommitted = 40
    assert batches.parts.drop(("t", 0)) == 40
    assert part.batch is None and part.letters == [] and not part.window.outcomes
    assert part.uncommitted == 40  # stored offsets are not in-flight work: kept
    assert batches.parts.drop(("t", 0)) is None  # nothing open: nowhere to rewind
    assert batches.parts.drop(("t", 9)) is None
