"""A statement sent ahead of the next one (BEGIN, the session's SET) shares its round trip, on a real
PostgreSQL: the order is kept, an error in either is raised with the connection still in step, and
the pool's requests and transactions cost one round trip fewer (counted on the wire by bench.statements).
A pipeline of parametrised statements is one round trip too, and each of its statements still runs
after the one before it, with a snapshot of its own: a lock the first waited for is held, and what
committed meanwhile is seen, by the next."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from datetime import timedelta
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import pytest
from pg8000.exceptions import DatabaseError

from bench.statements import Counts, proxy
from lending import fees, services
from lending.clock import SystemClock
from lending.correlation import working_for
from lending.fees_model import BlockPolicy
from lending.model import NewBook, User
from lending_postgres.connection import ConnectionPool, connect_params
from lending_postgres.prepared import PreparingConnection
from lending_postgres.store import PostgresStore
from tests.support.fakes import FakeGateway

ALICE = User("https://issuer.test", "alice", name="Alice Liddell")


@pytest.fixture
def conn(database_url: str) -> Iterator[PreparingConnection]:
    c = PreparingConnection(**connect_params(database_url, timeout=5.0, application_name="ahead",
                                             statement_timeout_ms=5000, lock_timeout_ms=2000))
    yield c
    c.close()


def test_a_statement_sent_ahead_runs_first_and_the_next_one_answers(conn: PreparingConnection) -> None:
    conn.send_with_next("SET application_name = 'sent ahead'")
    assert conn.run("SELECT current_setting('application_name'), :n::int + 1", n=41) == [["sent ahead", 42]]
    conn.send_with_next("BEGIN")
    conn.run("CREATE TEMP TABLE ahead (n int) ON COMMIT DROP")
    assert conn.run("SELECT count(*) FROM pg_stat_activity WHERE pid = pg_backend_pid() "
                    "AND state = 'active' AND xact_start IS NOT NULL") == [[1]]  # inside the BEGIN's transaction
    conn.run("COMMIT")


def test_an_error_in_the_statement_sent_ahead_is_raised_and_the_connection_stays_in_step(
        conn: PreparingConnection) -> None:
    conn.send_with_next("SELECT 1 / 0")
    with pytest.raises(DatabaseError) as caught:
        conn.run("SELECT :n::int", n=7)
    assert caught.value.args[0]["C"] == "22012"  # division_by_zero, the first statement's own error
    assert conn.run("SELECT :n::int", n=8) == [[8]]  # the next statement's answer was read: no answer is left over
    conn.send_with_next("SELECT 2")
    with pytest.raises(DatabaseError):
        conn.run("SELECT nonsense_column_x")
    assert conn.run("SELECT 'in step'") == [["in step"]]


def test_settle_sends_what_was_left_queued(conn: PreparingConnection) -> None:
    conn.send_with_next("SET application_name = 'settled'")
    conn.settle()
    conn.settle()  # nothing queued: nothing sent
    assert conn.run("SELECT current_setting('application_name')") == [["settled"]]
    conn.send_with_next("SELECT 1 / 0")
    with pytest.raises(DatabaseError):
        conn.settle()
    assert conn.run("SELECT 3") == [[3]]


def test_the_pools_requests_and_transactions_save_the_round_trip(database_url: str) -> None:
    counts = Counts()
    url = urlsplit(database_url)
    port = proxy((url.hostname or "127.0.0.1", url.port or 5432), counts)
    pool = ConnectionPool(urlunsplit(url._replace(netloc=f"{url.username or 'postgres'}@127.0.0.1:{port}")), size=1)
    try:
        turns = []
        for request_id in ("warm-up", "req-a", "req-b"):  # the first also opens the connection and prepares

            with working_for(request_id):
                before = counts.snapshot()
                with pool.connection() as c:
                    assert c.run("SELECT current_setting('application_name')") == [[f"lending {request_id}"]]
                with pool.transaction() as c:
                    assert c.run("SELECT :n::int", n=1) == [[1]]
                after = counts.snapshot()
            turns.append((after["round_trips"] - before["round_trips"], after["statements"] - before["statements"]))
        # connection: SET + SELECT in one turn; transaction: BEGIN + SELECT in one, then COMMIT
        assert turns[1:] == [(3, 5), (3, 5)]
    finally:
        pool.close()


def _counted_pool(database_url: str, counts: Counts) -> ConnectionPool:
    url = urlsplit(database_url)
    port = proxy((url.hostname or "127.0.0.1", url.port or 5432), counts)
    return ConnectionPool(urlunsplit(url._replace(netloc=f"{url.username or 'postgres'}@127.0.0.1:{port}")), size=1)


def test_a_pipeline_is_one_round_trip_and_answers_each_statement_in_order(database_url: str) -> None:
    counts = Counts()
    pool = _counted_pool(database_url, counts)
    try:
        turns = []
        for request_id in ("warm-up", "req-a"):  # the first also opens the connection and prepares
            with working_for(request_id):
                before = counts.snapshot()
                with pool.transaction() as c:
                    assert c.pipeline(("SELECT :n::int", {"n": 1}), ("SELECT :n::int + 1, 'two'", {"n": 1}),
                                      ("SELECT generate_series(1, :n::int)", {"n": 3})) == \
                        [[[1]], [[2, "two"]], [[1], [2], [3]]]
                after = counts.snapshot()
            turns.append((after["round_trips"] - before["round_trips"], after["statements"] - before["statements"]))
        # SET + BEGIN + the three statements in one turn, then COMMIT
        assert turns[1:] == [(2, 6)]
    finally:
        pool.close()


def test_the_next_statement_runs_once_the_first_holds_its_lock_and_sees_what_committed_meanwhile(
        conn: PreparingConnection, database_url: str) -> None:
    conn.run("CREATE TABLE IF NOT EXISTS pipeline_lock (id int PRIMARY KEY)")
    conn.run("CREATE TABLE IF NOT EXISTS pipeline_seen (n int)")
    conn.run("TRUNCATE pipeline_lock, pipeline_seen")
    conn.run("INSERT INTO pipeline_lock VALUES (1)")
    holder = PreparingConnection(**connect_params(database_url, timeout=5.0, application_name="holder",
                                                  statement_timeout_ms=5000, lock_timeout_ms=2000))
    holder.run("BEGIN")
    holder.run("SELECT id FROM pipeline_lock WHERE id = 1 FOR UPDATE")
    seen: list[Any] = []

    def pipelined() -> None:
        conn.send_with_next("BEGIN")
        try:
            seen.extend(conn.pipeline(("SELECT id FROM pipeline_lock WHERE id = :i FOR UPDATE", {"i": 1}),
                                      ("SELECT count(*) FROM pipeline_seen WHERE n = :n", {"n": 7})))
        finally:
            conn.run("ROLLBACK")

    waiter = threading.Thread(target=pipelined)
    waiter.start()
    try:
        deadline = time.monotonic() + 10
        while not holder.run("SELECT count(*) FROM pg_stat_activity WHERE application_name = 'ahead' "
                             "AND wait_event_type = 'Lock'")[0][0]:
            assert time.monotonic() < deadline, "the pipeline never waited for the lock"
        holder.run("INSERT INTO pipeline_seen VALUES (7)")  # committed while the first statement waits
        holder.run("COMMIT")
        waiter.join(timeout=10)
        assert seen == [[[1]], [[1]]]  # the lock was got, then the second statement read after it
    finally:
        waiter.join(timeout=10)
        holder.close()


def test_an_error_in_a_pipeline_is_the_first_one_and_the_connection_stays_in_step(conn: PreparingConnection) -> None:
    conn.run("BEGIN")
    with pytest.raises(DatabaseError) as caught:
        conn.pipeline(("SELECT 1 / :z::int", {"z": 0}), ("SELECT :n::int", {"n": 1}))
    assert caught.value.args[0]["C"] == "22012"  # the first statement's own error, not the aborted second's
    conn.run("ROLLBACK")
    assert conn.run("SELECT :n::int", n=8) == [[8]]  # every answer was read: none is left over
    with pytest.raises(DatabaseError) as caught:
        conn.pipeline(("SELECT :n::int", {"n": 1}), ("SELECT nonsense_column_x + :n::int", {"n": 1}))
    assert caught.value.args[0]["C"] == "42703"
    assert conn.run("SELECT 'in step'") == [["in step"]]


def test_a_borrow_of_a_copy_and_its_return_cost_six_and_two_round_trips(store: PostgresStore, database_url: str) -> None:
    """The hot path's round trips, counted on the wire (bench prints the same count through the service):
    the patron's standing and the copy together, the ledger's three writes around the processor's two
    calls, the title's lock with the move and its COMMIT (one round trip since 2026-12-08: the statement
    refuses itself when the payment cannot be attached), and the capture's write; a return is its lock
    with the close, and the COMMIT. A change that adds one fails here."""
    counts = Counts()
    pool = _counted_pool(database_url, counts)
    counted = PostgresStore(pool)
    policy = BlockPolicy(max_balance_cents=1000, overdue_after=timedelta(days=30))
    try:
        turns = []
        for n in range(3):  # the first also opens the connection and prepares each statement
            book = store.add_book(NewBook("9780261102217", f"The Hobbit {n}", "J. R. R. Tolkien", 1500, 200, "usd"))
            with working_for(f"req-{n}"):
                before = counts.snapshot()
                copy = fees.ensure_not_blocked(counted, ALICE, clock=SystemClock(), currency="usd", policy=policy,
                                               book_id=book.book_id)
                services.borrow_book(counted, FakeGateway(), ALICE, book.book_id, "pm_card_visa", copy=copy)
                middle = counts.snapshot()
                services.return_book(counted, ALICE, book.book_id)
                after = counts.snapshot()
            turns.append((middle["round_trips"] - before["round_trips"], after["round_trips"] - middle["round_trips"]))
        assert turns[1:] == [(6, 2), (6, 2)]
    finally:
        pool.close()
