"""What PreparingConnection keeps, on a real PostgreSQL: a parametrised statement prepared once, at most
256 of them per connection (a pipeline's always), a plan the server calls stale forgotten so the next
call works, timestamps and dates read fast with the values pg8000 itself would give, and a statement's
messages written in one piece and read back whole, with pg8000's errors for a broken or closed socket."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import pg8000.native
import pytest
from pg8000.exceptions import DatabaseError, InterfaceError

from lending_postgres.connection import connect_params
from lending_postgres.prepared import _FAST_INPUT, PreparingConnection


def _open(database_url: str, kind: type[pg8000.native.Connection]) -> pg8000.native.Connection:
    return kind(**connect_params(database_url, timeout=5.0, application_name="prepared",
                                 statement_timeout_ms=5000, lock_timeout_ms=2000))


@pytest.fixture
def conn(database_url: str) -> Iterator[PreparingConnection]:
    c = _open(database_url, PreparingConnection)
    yield c
    c.close()


def test_a_parametrised_statement_is_prepared_once_and_one_without_parameters_never(conn: PreparingConnection) -> None:
    for n in range(3):
        assert conn.run("SELECT CAST(:n AS int) + 1", n=n) == [[n + 1]]
    assert list(conn._prepared) == ["SELECT CAST(:n AS int) + 1"]
    conn.run("SELECT 1")  # DDL, SET and the like: one-offs, sent as they are
    assert list(conn._prepared) == ["SELECT CAST(:n AS int) + 1"]


def test_at_most_256_statements_are_prepared_and_the_rest_still_run(conn: PreparingConnection) -> None:
    for n in range(300):
        assert conn.run(f"SELECT CAST(:n AS int) + {n}", n=1) == [[n + 1]]
    assert len(conn._prepared) == 256  # SQL built per call cannot fill the server's memory
    # A pipeline's statements are fixed in the code: prepared past the cap, and answered.
    assert conn.pipeline(("SELECT CAST(:a AS int) * 2", {"a": 21}), ("SELECT CAST(:b AS text)", {"b": "x"})) \
        == [[[42]], [["x"]]]
    assert {"SELECT CAST(:a AS int) * 2", "SELECT CAST(:b AS text)"} <= set(conn._prepared)


def test_a_plan_made_stale_by_ddl_is_forgotten_and_the_next_call_runs(conn: PreparingConnection) -> None:
    conn.run("CREATE TEMPORARY TABLE shelf (id int PRIMARY KEY)")
    conn.run("INSERT INTO shelf VALUES (1)")
    sql = "SELECT * FROM shelf WHERE id = :id"
    assert conn.run(sql, id=1) == [[1]]
    conn.run("ALTER TABLE shelf ADD COLUMN label text DEFAULT 'new'")
    with pytest.raises(DatabaseError) as stale:
        conn.run(sql, id=1)
    assert stale.value.args[0]["C"] == "0A000"  # cached plan must not change result type
    assert conn._prepared == {}
    assert conn.run(sql, id=1) == [[1, "new"]]  # prepared again, for the table as it is now


def test_any_other_error_keeps_the_prepared_statements(conn: PreparingConnection) -> None:
    conn.run("CREATE TEMPORARY TABLE shelf (id int PRIMARY KEY)")
    insert = "INSERT INTO shelf VALUES (:id)"
    conn.run(insert, id=1)
    with pytest.raises(DatabaseError) as taken:
        conn.run(insert, id=1)
    assert taken.value.args[0]["C"] == "23505"
    assert insert in conn._prepared  # not re-prepared after every refused insert


def test_timestamps_and_dates_are_read_fast_and_as_pg8000_reads_them(conn: PreparingConnection,
                                                                      database_url: str) -> None:
    for oid in (1114, 1184, 1082):  # timestamp, timestamptz, date
        assert conn.pg_types[oid] is _FAST_INPUT[oid]
    sql = ("SELECT CAST(CAST(:t AS text) AS timestamp), CAST(CAST(:t AS text) AS timestamptz), "
           "CAST(CAST(:d AS text) AS date), CAST('infinity' AS timestamptz), CAST('-infinity' AS timestamp), "
           "CAST('infinity' AS date), CAST('12345-01-01' AS date)")
    params = {"t": "2026-12-04 18:01:02.5+05:30", "d": "2026-12-04"}
    plain = _open(database_url, pg8000.native.Connection)
    try:
        expected = plain.run(sql, **params)
    finally:
        plain.close()
    assert conn.run(sql, **params) == expected
    assert [type(v).__name__ for v in expected[0][:3]] == ["datetime", "datetime", "date"]


class _Wire:
    """The connection's buffered socket, counted, with reads that can be cut short or fail."""

    def __init__(self, sock: Any) -> None:
        self.sock, self.writes, self.flushes = sock, 0, 0
        self.cut: int | None = None  # the next reads return at most this many bytes
        self.fail: Exception | None = None

    def write(self, data: bytes) -> int:
        self.writes += 1
        return int(self.sock.write(data))

    def flush(self) -> None:
        self.flushes += 1
        self.sock.flush()

    def read(self, n: int) -> bytes:
        if self.fail is not None:
            raise self.fail
        return bytes(self.sock.read(n if self.cut is None else min(n, self.cut)))

    def close(self) -> None:
        self.sock.close()


def _wired(conn: PreparingConnection) -> _Wire:
    wire = _Wire(conn._sock)
    conn._sock = wire
    return wire


def test_a_statement_is_sent_in_one_write_and_answers_as_pg8000_answers(conn: PreparingConnection,
                                                                       database_url: str) -> None:
    sql = ("SELECT CAST(:n AS int) * 2, CAST(:s AS text), CAST(:none AS text), CAST(:yes AS boolean), "
           "CAST(:at AS timestamptz), length(CAST(:s AS text))")
    params = {"n": 21, "s": "Nǎ Zhā, 哪吒 ✓", "none": None, "yes": True,
              "at": datetime(2026, 12, 6, 21, 30, tzinfo=UTC)}
    plain = _open(database_url, pg8000.native.Connection)
    try:
        expected = plain.run(sql, **params)
    finally:
        plain.close()
    conn.run(sql, **params)  # prepared here
    conn.run("SELECT CAST(:b AS text)", b="x")
    wire = _wired(conn)
    assert conn.run(sql, **params) == expected
    assert (wire.writes, wire.flushes) == (1, 1)  # Bind, Execute and Sync together: pg8000 writes five pieces
    assert conn.pipeline((sql, params), ("SELECT CAST(:b AS text)", {"b": "x"})) == [expected, [["x"]]]
    assert (wire.writes, wire.flushes) == (3, 2)


def test_an_answer_that_arrives_in_small_pieces_is_read_whole(conn: PreparingConnection) -> None:
    sql = "SELECT CAST(:s AS text), g FROM generate_series(1, 3) AS g"
    conn.run(sql, s="warm")
    wire = _wired(conn)
    wire.cut = 3  # every message's head (5 bytes) and body come in pieces
    assert conn.run(sql, s="a title") == [["a title", 1], ["a title", 2], ["a title", 3]]


def test_a_socket_that_fails_or_closes_mid_answer_is_pg8000s_network_error(conn: PreparingConnection) -> None:
    sql = "SELECT CAST(:n AS int)"
    conn.run(sql, n=1)
    wire = _wired(conn)
    wire.fail = ConnectionResetError("reset by peer")
    with pytest.raises(InterfaceError, match="network error") as failed:
        conn.run(sql, n=2)
    assert isinstance(failed.value.__cause__, ConnectionResetError)
    wire.fail = None
    wire.read = lambda n: b""  # type: ignore[method-assign]  # the server went away: end of stream
    with pytest.raises(InterfaceError, match="network error"):
        conn.run(sql, n=3)


def test_a_closed_connection_says_so(database_url: str) -> None:
    conn = _open(database_url, PreparingConnection)
    sql = "SELECT CAST(:n AS int)"
    conn.run(sql, n=1)
    conn.close()
    with pytest.raises(InterfaceError, match="connection is closed"):
        conn.run(sql, n=2)
    with pytest.raises(InterfaceError, match="connection is closed"):
        conn.pipeline((sql, {"n": 3}))


def test_a_statement_on_a_socket_closed_under_it_says_the_connection_is_closed(database_url: str) -> None:
    conn = _open(database_url, PreparingConnection)
    sql = "SELECT CAST(:n AS int)"
    conn.run(sql, n=1)
    conn._sock.close()  # the file under the connection is closed; the connection object does not know yet
    try:
        with pytest.raises(InterfaceError, match="connection is closed"):
            conn.run(sql, n=2)
    finally:
        conn._usock.close()


def test_what_the_server_adds_to_an_answer_is_read_and_the_connection_stays_in_step(conn: PreparingConnection) -> None:
    conn.run("CREATE FUNCTION pg_temp.say(t text) RETURNS text LANGUAGE plpgsql AS $$ "
             "BEGIN RAISE NOTICE 'said %', t; RETURN t; END $$")
    # A NoticeResponse and a ParameterStatus arrive among the statement's own messages.
    assert conn.run("SELECT pg_temp.say(CAST(:t AS text))", t="hello") == [["hello"]]
    assert conn.notices and conn.notices[-1][b"M"] == b"said hello"
    assert conn.run("SELECT set_config('application_name', CAST(:n AS text), false)", n="reader") == [["reader"]]
    assert conn.parameter_statuses["application_name"] == "reader"
    assert conn.pipeline(("SELECT pg_temp.say(CAST(:t AS text))", {"t": "again"}), ("SELECT CAST(:n AS int)", {"n": 5})) \
        == [[["again"]], [[5]]]
    assert conn.run("SELECT current_setting('application_name')") == [["reader"]]
