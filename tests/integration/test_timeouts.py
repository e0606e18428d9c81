"""Server-side bounds on every connection: a statement or lock wait the client would give up on
is stopped on the server too, and surfaces as our own error (real PostgreSQL)."""

from __future__ import annotations

import time
import uuid
from collections.abc import Iterator

import pytest

from lending.errors import DatabaseUnavailable
from lending_postgres import ConnectionPool, migrate
from lending_postgres.connection import DatabaseTimedOut, sqlstate
from tests.conftest import create_database


@pytest.fixture
def app_name() -> str:
    return f"timeouts-{uuid.uuid4().hex[:8]}"


def running(admin: ConnectionPool, app_name: str, text: str) -> list[list[object]]:
    with admin.connection() as c:
        return c.run("SELECT pid, state FROM pg_stat_activity WHERE application_name = :a AND state = 'active' "
                     "AND query LIKE :q", a=app_name, q=f"%{text}%")


@pytest.fixture
def admin(database_url: str) -> Iterator[ConnectionPool]:
    pool = ConnectionPool(database_url, size=2, application_name="timeouts-admin")
    yield pool
    pool.close()


def test_a_long_statement_is_cut_by_the_server_and_the_connection_is_kept(
        database_url: str, admin: ConnectionPool, app_name: str) -> None:
    pool = ConnectionPool(database_url, size=1, application_name=app_name)  # the defaults: 5 s statement bound
    try:
        with pool.connection() as c:
            backend = c.run("SELECT pg_backend_pid()")[0][0]
        started = time.monotonic()
        with pytest.raises(DatabaseUnavailable) as caught, pool.connection() as c:
            c.run("SELECT pg_sleep(10)")
        elapsed = time.monotonic() - started
        assert isinstance(caught.value, DatabaseTimedOut)
        assert sqlstate(caught.value.__cause__) == "57014"  # query_canceled: statement_timeout
        assert 4.5 < elapsed < 8, elapsed
        assert running(admin, app_name, "pg_sleep") == []  # nothing left running on the server
        with pool.connection() as c:  # the same session serves the next request
            assert c.run("SELECT pg_backend_pid()")[0][0] == backend
            assert c.run("SHOW statement_timeout")[0][0] == "5s"
            assert c.run("SHOW lock_timeout")[0][0] == "2s"
    finally:
        pool.close()


def test_a_lock_wait_is_cut_by_lock_timeout(database_url: str, admin: ConnectionPool, app_name: str) -> None:
    table = f"scratch_{uuid.uuid4().hex[:8]}"
    with admin.connection() as c:
        c.run(f"CREATE TABLE {table} (id int PRIMARY KEY, n int)")
        c.run(f"INSERT INTO {table} VALUES (1, 0)")
    pool = ConnectionPool(database_url, size=1, application_name=app_name, lock_timeout_ms=200)
    try:
        with admin.transaction() as holder:
            holder.run(f"SELECT * FROM {table} WHERE id = 1 FOR UPDATE")
            with pytest.raises(DatabaseTimedOut) as caught, pool.transaction() as c:
                c.run(f"UPDATE {table} SET n = n + 1 WHERE id = 1")
            assert sqlstate(caught.value.__cause__) == "55P03"  # lock_not_available
            assert running(admin, app_name, "UPDATE") == []
        with pool.transaction() as c:  # the lock is free again and the connection still works
            assert c.run(f"UPDATE {table} SET n = n + 1 WHERE id = 1 RETURNING n")[0][0] == 1
    finally:
        pool.close()
        with admin.connection() as c:
            c.run(f"DROP TABLE {table}")


def test_migrations_run_with_their_own_longer_bounds(postgres_server: str) -> None:
    name = f"lending_timeouts_{uuid.uuid4().hex[:8]}"
    url = create_database(postgres_server, name)
    # A request bound no migration could meet: migrate() must not use it.
    pool = ConnectionPool(url, size=1, statement_timeout_ms=1)
    try:
        assert migrate(pool)  # applies every migration
        with pool.dedicated(statement_timeout_ms=600_000, lock_timeout_ms=10_000) as c:
            assert c.run("SHOW statement_timeout")[0][0] == "10min"
            assert c.run("SHOW lock_timeout")[0][0] == "10s"
            c.run("SELECT pg_sleep(6)")  # longer than the pool's 5 s socket timeout: a migration may take it
        with pytest.raises(DatabaseTimedOut), pool.connection() as c:
            c.run("SELECT count(*) FROM generate_series(1, 3000000)")
    finally:
        pool.close()
        server = ConnectionPool(postgres_server, size=1, timeout=60, statement_timeout_ms=0)  # DDL on a busy server takes time
        with server.connection() as c:
            c.run(f'DROP DATABASE "{name}"')
        server.close()
