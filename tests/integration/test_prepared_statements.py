"""What PreparingConnection keeps, on a real PostgreSQL: a parametrised statement prepared once, at most
256 of them per connection (a pipeline's always), a plan the server calls stale forgotten so the next
call works, and timestamps and dates read fast with the values pg8000 itself would give."""

from __future__ import annotations

from collections.abc import Iterator

import pg8000.native
import pytest
from pg8000.exceptions import DatabaseError

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
