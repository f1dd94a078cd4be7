"""ClientPool: a Client is never in two threads at once; a failed one is never reused."""

from __future__ import annotations

import threading
import time
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest

from query_api.config import ApiConfig
from query_api.pool import ClientPool, DatabaseError, PoolTimeout


class FakeClient:
    """Records whether two threads ever use it at the same time."""

    def __init__(self) -> None:
        self.busy = False
        self.overlaps = 0
        self.disconnected = False
        self.lock = threading.Lock()

    def execute(self, sql: str, params: Any, **_: Any) -> list[tuple[Any, ...]]:
        with self.lock:
            if self.busy:
                self.overlaps += 1
            self.busy = True
        time.sleep(0.002)
        self.busy = False
        if sql == "fail":
            raise EOFError("connection dropped")
        return [(id(self),)]

    def disconnect(self) -> None:
        self.disconnected = True


@pytest.fixture
def made(monkeypatch: pytest.MonkeyPatch) -> list[FakeClient]:
    created: list[FakeClient] = []

    def new_client(self: ClientPool, endpoint: Any = None) -> FakeClient:
        created.append(FakeClient())
        return created[-1]

    monkeypatch.setattr(ClientPool, "_new_client", new_client)
    return created


def test_clients_are_never_shared_and_stay_bounded(made: list[FakeClient]) -> None:
    pool = ClientPool(ApiConfig(pool_size=3))
    with ThreadPoolExecutor(12) as workers:
        list(workers.map(lambda _: pool.execute("SELECT 1"), range(300)))
    assert 1 <= len(made) <= 3
    assert sum(c.overlaps for c in made) == 0
    pool.close()
    assert all(c.disconnected for c in made)


def test_failed_client_is_dropped_and_error_is_typed(made: list[FakeClient]) -> None:
    pool = ClientPool(ApiConfig(pool_size=1))
    with pytest.raises(DatabaseError, match="EOFError"):
        pool.execute("fail")
    assert made[0].disconnected
    pool.execute("SELECT 1")
    assert len(made) == 2 and not made[1].disconnected


def test_checkout_waits_then_times_out(made: list[FakeClient]) -> None:
    pool = ClientPool(ApiConfig(pool_size=1), checkout_timeout=0.05)
    with pool.client(), pytest.raises(PoolTimeout):
        pool.execute("SELECT 1")
