"""The pool's connection budget on a real PostgreSQL: never more than `size` connections, however
many threads ask at once, and a request that cannot get one in time is told so, nothing opened."""

from __future__ import annotations

import threading
import time
import uuid

import pytest

from lending.correlation import working_for
from lending.errors import DatabaseUnavailable
from lending_postgres.connection import ConnectionPool


def _sessions(pool: ConnectionPool, name: str) -> int:
    return int(pool.read(lambda c: c.run("SELECT count(*) FROM pg_stat_activity WHERE application_name LIKE :n",
                                         n=f"{name}%"))[0][0])


def test_sixty_threads_share_three_connections_and_never_open_a_fourth(database_url: str) -> None:
    name = f"slots-{uuid.uuid4().hex[:8]}"
    pool, watcher = ConnectionPool(database_url, size=3, application_name=name), ConnectionPool(database_url, size=1)
    seen: list[int] = []
    start = threading.Barrier(60)

    def patron() -> None:
        start.wait()
        for _ in range(5):
            with pool.connection() as conn:
                conn.run("SELECT pg_sleep(0.005)")
                seen.append(len(pool._idle))  # noqa: SLF001 - idle connections while this one is out

    threads = [threading.Thread(target=patron) for _ in range(60)]
    for thread in threads:
        thread.start()
    peak = 0
    while any(t.is_alive() for t in threads):
        peak = max(peak, _sessions(watcher, name))
        time.sleep(0.01)
    for thread in threads:
        thread.join()
    assert len(seen) == 300 and max(seen) <= 2  # the other two, at most, were idle while one was out
    assert 1 <= peak <= 3 and _sessions(watcher, name) == 3  # all three kept open, none more
    pool.close()
    watcher.close()


def test_a_request_that_finds_every_connection_busy_is_told_so_within_its_budget(database_url: str) -> None:
    pool = ConnectionPool(database_url, size=1, timeout=0.2)
    held, release = threading.Event(), threading.Event()

    def holder() -> None:
        with pool.connection():
            held.set()
            release.wait(5)

    thread = threading.Thread(target=holder)
    thread.start()
    held.wait(5)
    try:
        began = time.monotonic()
        with working_for("busy-1", budget_seconds=0.1), pytest.raises(DatabaseUnavailable, match="busy"):
            with pool.connection():
                pass
        assert time.monotonic() - began < 0.35  # the request's 0.1 s budget, not the pool's 0.4 s
    finally:
        release.set()
        thread.join()
    with pool.connection() as conn:  # the slot came back when the holder was done
        assert conn.run("SELECT 1") == [[1]]
    pool.close()
