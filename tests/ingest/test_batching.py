"""Per-partition batches by size and age, driven by a fake clock."""

from __future__ import annotations

import pytest

from ingest.batching import Batcher


class FakeClock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def test_due_by_size_per_partition() -> None:
    clock = FakeClock()
    batcher = Batcher(3, 10.0, clock)
    for offset in (5, 6, 7):
        batcher.add("t", 0, offset, ("row", offset))
    batcher.add("t", 1, 0, ("row", 0))
    assert batcher.is_full(("t", 0)) and not batcher.is_full(("t", 1))
    assert batcher.due() == [("t", 0)]
    batch = batcher.take(("t", 0))
    assert batch is not None
    assert (batch.first_offset, batch.last_offset, batch.commit_offset) == (5, 7, 8)
    assert batch.dedup_token() == "t-0-5-7"
    assert [r[1] for r in batch.rows] == [5, 6, 7]


def test_due_by_age_oldest_first() -> None:
    clock = FakeClock()
    batcher = Batcher(1000, 1.0, clock)
    batcher.add("t", 1, 0, ("a",))
    clock.now += 0.5
    batcher.add("t", 0, 0, ("b",))
    assert batcher.due() == []
    clock.now += 0.6
    assert batcher.due() == [("t", 1)]
    clock.now += 0.5
    assert batcher.due() == [("t", 1), ("t", 0)]


def test_messages_without_rows_still_count_and_commit() -> None:
    batcher = Batcher(2, 10.0, FakeClock())
    batcher.add("t", 0, 10, None)  # a dead letter
    batcher.add("t", 0, 11, ("row",))
    batch = batcher.take(("t", 0))
    assert batch is not None and batch.messages == 2 and len(batch.rows) == 1
    assert batch.commit_offset == 12


def test_a_batch_is_identical_when_rebuilt_from_the_same_offsets() -> None:
    def build() -> tuple[str, list[tuple[int]]]:
        batcher = Batcher(3, 10.0, FakeClock())
        for offset in (3, 4, 5):
            batcher.add("t", 2, offset, (offset,))
        batch = batcher.take(("t", 2))
        assert batch is not None
        return batch.dedup_token("0f3c"), batch.rows

    assert build() == build()


def test_the_token_names_the_topic_incarnation() -> None:
    # A topic deleted and created again restarts at offset 0: the same range of the new
    # topic must not repeat the old topic's token (the server would drop it as a retry).
    batcher = Batcher(3, 10.0, FakeClock())
    batcher.add("t", 0, 0, ("row",))
    batch = batcher.take(("t", 0))
    assert batch is not None
    old, new = batch.dedup_token("aa11"), batch.dedup_token("bb22")
    assert old != new and old == "t~aa11-0-0-0"


def test_offsets_must_increase() -> None:
    batcher = Batcher(10, 10.0, FakeClock())
    batcher.add("t", 0, 5, None)
    with pytest.raises(ValueError, match="offset 5 <= 5"):
        batcher.add("t", 0, 5, None)


def test_zero_age_is_due_at_once_and_pending_rows_counted() -> None:
    batcher = Batcher(10, 0.0, FakeClock())
    batcher.add("t", 0, 0, ("a",))
    batcher.add("t", 1, 0, None)
    assert batcher.rows_pending() == 1 and len(batcher) == 2
    assert set(batcher.due()) == {("t", 0), ("t", 1)}
