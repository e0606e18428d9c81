"""A statement sent ahead of the next one (BEGIN, the session's SET) shares its round trip, on a real
PostgreSQL: the order is kept, an error in either is raised with the connection still in step, and
the pool's requests and transactions cost one round trip fewer (counted on the wire by bench.statements)."""

from __future__ import annotations

from collections.abc import Iterator
from urllib.parse import urlsplit, urlunsplit

import pytest
from pg8000.exceptions import DatabaseError

from bench.statements import Counts, proxy
from lending.correlation import working_for
from lending_postgres.connection import ConnectionPool, connect_params
from lending_postgres.prepared import PreparingConnection


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
