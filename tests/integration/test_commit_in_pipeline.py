"""A pipeline that ends its transaction: `pipeline(..., commit=True)` sends the COMMIT in the same write
as its statements, on a real PostgreSQL. The transaction commits in that one round trip when every
statement succeeded; after a statement's error the server answers the COMMIT with a ROLLBACK, nothing
of the pipeline stays, the error raised is that statement's own, and the connection is out of the
transaction and in step. The pool's transaction sends no COMMIT of its own after it.

The borrow's move is such a pipeline (lending_postgres.circulation.lend_from_shelf): its statement
refuses itself (migration 0013's `refuse`) when the copy moved but its payment could not be attached,
so the COMMIT in its round trip cannot keep a loan without its payment."""

from __future__ import annotations

from collections.abc import Iterator
from urllib.parse import urlsplit, urlunsplit

import pytest
from pg8000.exceptions import DatabaseError

from bench.statements import Counts, proxy
from lending.correlation import working_for
from lending_postgres.connection import ConnectionPool

PROBE = "commit_in_pipeline_probe"


@pytest.fixture
def counted(database_url: str) -> Iterator[tuple[ConnectionPool, Counts, ConnectionPool]]:
    """A pool of one connection whose traffic is counted on the wire, and an uncounted one to look with."""
    counts = Counts()
    url = urlsplit(database_url)
    port = proxy((url.hostname or "127.0.0.1", url.port or 5432), counts)
    pool = ConnectionPool(urlunsplit(url._replace(netloc=f"{url.username or 'postgres'}@127.0.0.1:{port}")), size=1)
    look = ConnectionPool(database_url, size=1)
    with look.connection() as c:
        c.run(f"DROP TABLE IF EXISTS {PROBE}")
        c.run(f"CREATE TABLE {PROBE} (n int PRIMARY KEY)")
        c.run(f"DROP TABLE IF EXISTS {PROBE}_deferred")
        c.run(f"CREATE TABLE {PROBE}_deferred (n int UNIQUE DEFERRABLE INITIALLY DEFERRED)")  # checked at COMMIT
    try:
        yield pool, counts, look
    finally:
        with look.connection() as c:
            c.run(f"DROP TABLE IF EXISTS {PROBE}")
            c.run(f"DROP TABLE IF EXISTS {PROBE}_deferred")
        pool.close()
        look.close()


def _stored(look: ConnectionPool) -> list[int]:
    with look.connection() as c:
        return [row[0] for row in c.run(f"SELECT n FROM {PROBE} ORDER BY n")]


def test_the_commit_goes_in_the_pipelines_round_trip_and_the_transaction_sends_none_after_it(
        counted: tuple[ConnectionPool, Counts, ConnectionPool]) -> None:
    pool, counts, look = counted
    turns = []
    for n in (1, 2, 3):  # the first also opens the connection and prepares each statement
        with working_for(f"req-{n}"):
            before = counts.snapshot()
            with pool.transaction() as c:
                rows = c.pipeline((f"INSERT INTO {PROBE} VALUES (:n) RETURNING n", {"n": n}),
                                  ("SELECT count(*) FROM " + PROBE, {}), commit=True)
                assert rows == [[[n]], [[n]]]
                assert not c.in_transaction
            after = counts.snapshot()
        turns.append((after["round_trips"] - before["round_trips"], after["statements"] - before["statements"]))
    # SET + BEGIN + INSERT + SELECT + COMMIT, all in one turn; no COMMIT after it
    assert turns[1:] == [(1, 5), (1, 5)]
    assert _stored(look) == [1, 2, 3]


def test_after_an_error_the_commit_in_the_pipeline_is_a_rollback_and_the_error_is_the_statements(
        counted: tuple[ConnectionPool, Counts, ConnectionPool]) -> None:
    pool, _, look = counted
    with pytest.raises(DatabaseError) as caught, pool.transaction() as c:
        c.pipeline((f"INSERT INTO {PROBE} VALUES (:n)", {"n": 7}), ("SELECT 1 / :zero::int", {"zero": 0}), commit=True)
    assert caught.value.args[0]["C"] == "22012"  # division_by_zero: not pg8000's "in failed transaction block"
    assert _stored(look) == []  # the INSERT before the error was rolled back with it
    with pool.connection() as c:  # the same connection: out of the transaction, and in step
        assert c.run("SELECT :n::int", n=8) == [[8]]
        assert not c.in_transaction
    with pool.transaction() as c:
        c.run(f"INSERT INTO {PROBE} VALUES (:n)", n=9)
    assert _stored(look) == [9]


def test_a_commit_that_fails_itself_is_raised_and_keeps_nothing(
        counted: tuple[ConnectionPool, Counts, ConnectionPool]) -> None:
    """Every statement succeeded, and the COMMIT is refused (a constraint checked at COMMIT): its error is raised."""
    pool, _, look = counted
    with pytest.raises(DatabaseError) as caught, pool.transaction() as c:
        c.pipeline((f"INSERT INTO {PROBE} VALUES (:n)", {"n": 1}),
                   (f"INSERT INTO {PROBE}_deferred VALUES (:n), (:n)", {"n": 5}), commit=True)
    assert caught.value.args[0]["C"] == "23505"  # unique_violation, at COMMIT
    assert _stored(look) == []
    with pool.connection() as c:
        assert c.run(f"SELECT count(*) FROM {PROBE}_deferred") == [[0]]
        assert not c.in_transaction


def test_a_statement_that_refuses_itself_commits_nothing_of_what_it_did(
        counted: tuple[ConnectionPool, Counts, ConnectionPool]) -> None:
    """migration 0013's refuse(): the statement's own writes, and the pipeline's before it, are rolled back."""
    pool, _, look = counted
    with pytest.raises(DatabaseError) as caught, pool.transaction() as c:
        c.pipeline((f"INSERT INTO {PROBE} VALUES (:n)", {"n": 1}),
                   (f"WITH added AS (INSERT INTO {PROBE} VALUES (:n) RETURNING n) "
                    "SELECT CASE WHEN (SELECT count(*) FROM added) = 1 THEN refuse('probe_guard', 'no, thanks') END",
                    {"n": 2}), commit=True)
    assert (caught.value.args[0]["C"], caught.value.args[0]["n"], caught.value.args[0]["M"]) == \
        ("P0001", "probe_guard", "no, thanks")
    assert _stored(look) == []


def test_a_transaction_with_nothing_sent_yet_still_begins_and_commits(
        counted: tuple[ConnectionPool, Counts, ConnectionPool]) -> None:
    """Its BEGIN is only queued (sent ahead of the next statement): the transaction counts as open."""
    pool, _, _ = counted
    with pool.transaction() as c:
        assert c.in_transaction
    with pool.connection() as c:
        assert c.run("SELECT count(*) FROM pg_stat_activity WHERE pid = pg_backend_pid() "
                     "AND xact_start < statement_timestamp()") == [[0]]  # no transaction left open since
        assert not c.in_transaction
