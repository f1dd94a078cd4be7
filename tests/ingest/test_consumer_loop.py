"""The loop's reactions to Kafka, with a scripted consumer (no services): a failing poll()
is waited out, and a group join that kafka-python finished between polls is applied."""

from __future__ import annotations

import asyncio
from typing import Any

from kafka.errors import KafkaConnectionError
from kafka.structs import MemberState

from ingest import kafka_clients
from ingest.assembly import assemble
from ingest.backoff import Backoff
from ingest.batching import BatchPolicy
from ingest.dlq_guard import DlqGuard
from ingest.flow import EXIT_OK
from ingest.metrics import RecordingMetrics
from ingest.worker import Worker


class ScriptedConsumer:
    """poll() raises ``failures`` times, then asks the worker to stop."""

    def __init__(self, failures: int) -> None:
        self.failures = failures
        self.polls: list[int] = []
        self.worker: Worker | None = None
        self.closed = False

    def subscribe(self, topics: list[str], listener: Any) -> None:
        self.topics_subscribed = topics

    def topics(self) -> set[str]:
        return {"raw"}

    def partitions_for_topic(self, topic: str) -> set[int]:
        return {0}

    def poll(self, timeout_ms: int) -> dict[Any, Any]:
        self.polls.append(timeout_ms)
        if len(self.polls) <= self.failures:
            raise KafkaConnectionError("111 ECONNREFUSED")
        assert self.worker is not None
        self.worker.stop()
        return {}

    def close(self, autocommit: bool) -> None:
        self.closed = True


def _worker(consumer: ScriptedConsumer, sleeps: list[float]) -> Worker:
    unused: Any = object()  # nothing is consumed, so the steps are never called
    now = [0.0]

    def sleep(seconds: float) -> None:  # fake time: sleeping is what advances the clock
        sleeps.append(seconds)
        now[0] += seconds

    worker = assemble(
        consumer=consumer,
        topic="raw",
        writer=unused,
        dlq=unused,
        processor=unused,
        erasures=unused,
        guard=DlqGuard(0.5, 10),
        policy=BatchPolicy(100, 0.2, lambda: 0.0),
        backoff=Backoff(0.2, 1.0),
        metrics=RecordingMetrics(),
        clock=lambda: now[0],
        sleep=sleep,
    )
    consumer.worker = worker
    return worker


def test_a_failing_poll_is_retried_after_a_backoff_not_fatal() -> None:
    consumer, sleeps = ScriptedConsumer(failures=3), list[float]()
    worker = _worker(consumer, sleeps)
    assert worker.run() == EXIT_OK
    assert len(consumer.polls) == 4
    # Three jittered waits (0.05-0.2 s, 0.05-0.4 s, 0.05-0.8 s) in slices that notice stop().
    assert 0.15 <= sum(sleeps) <= 1.4 and all(0 < s <= 0.1 for s in sleeps)
    assert consumer.closed


def test_idle_polls_wait_long_enough_for_a_group_join() -> None:
    consumer, sleeps = ScriptedConsumer(failures=0), list[float]()
    _worker(consumer, sleeps).run()
    assert consumer.polls == [1000]


class _Coordinator:
    """The attributes of kafka-python 3.0's BaseCoordinator that the workaround touches."""

    def __init__(self, task: Any) -> None:
        import threading

        from kafka.coordinator.base import Generation

        self._join_task = task
        self._lock = threading.RLock()
        self.rejoining = True
        self.rejoin_needed = True
        self.state = MemberState.REBALANCING
        self._generation = Generation(2, "member-1", "range")
        self.heartbeat_enabled = False
        self.completed: list[tuple[Any, ...]] = []
        self.original_calls = 0

    def _enable_heartbeat(self) -> None:
        self.heartbeat_enabled = True

    async def _on_join_complete_async(self, *args: Any) -> None:
        self.completed.append(args)

    async def join_group_async(self, timeout_ms: int | None = None) -> bool:
        self.original_calls += 1
        return False


class _Consumer:
    def __init__(self, coordinator: _Coordinator) -> None:
        self._coordinator = coordinator


def _done(value: Any = None, error: Exception | None = None) -> Any:
    from kafka.future import Future

    future = Future()
    return future.failure(error) if error else future.success(value)


def test_a_join_completed_between_polls_is_applied_not_sent_again() -> None:
    coordinator = _Coordinator(_done(b"assignment"))
    kafka_clients._keep_completed_joins(_Consumer(coordinator))
    assert asyncio.run(coordinator.join_group_async(timeout_ms=50)) is True
    assert coordinator.completed == [(2, "member-1", "range", b"assignment")]
    assert coordinator.original_calls == 0
    assert coordinator.state is MemberState.STABLE and coordinator.heartbeat_enabled
    assert not coordinator.rejoin_needed and not coordinator.rejoining
    assert coordinator._join_task is None


def test_failed_or_pending_joins_are_left_to_kafka_python() -> None:
    from kafka.future import Future

    for task in (_done(error=KafkaConnectionError("down")), Future(), None):
        coordinator = _Coordinator(task)
        kafka_clients._keep_completed_joins(_Consumer(coordinator))
        assert asyncio.run(coordinator.join_group_async(timeout_ms=50)) is False
        assert coordinator.original_calls == 1 and coordinator.completed == []
