"""The suite drops the databases it created, and only those: another session's database on the same
server (here, one made behind the registry's back) is left alone."""

from __future__ import annotations

import uuid

from lending_postgres import ConnectionPool
from tests.conftest import CREATED, create_database, drop_created_databases


def databases(server: str, prefix: str) -> set[str]:
    admin = ConnectionPool(server, size=1)
    with admin.connection() as c:
        rows = c.run("SELECT datname FROM pg_database WHERE datname LIKE :p", p=prefix + "%")
    admin.close()
    return {r[0] for r in rows}


def test_the_databases_a_session_created_are_dropped_and_another_sessions_are_kept(postgres_server: str) -> None:
    prefix = f"lending_drop_{uuid.uuid4().hex[:6]}_"
    ours = [create_database(postgres_server, f"{prefix}{i}").rpartition("/")[2] for i in range(2)]
    assert {(postgres_server, name) for name in ours} <= set(CREATED)
    theirs = f"{prefix}other"
    admin = ConnectionPool(postgres_server, size=1, timeout=120, statement_timeout_ms=0)
    with admin.connection() as c:
        c.run(f'CREATE DATABASE "{theirs}"')  # as a parallel session would: not in this session's registry
    held = ConnectionPool(f"{postgres_server.rpartition('/')[0]}/{ours[0]}", size=1)
    with held.connection() as c:
        c.run("SELECT 1")  # an open connection, as a server a test started may leave: FORCE ends it
    try:
        mine = [(url, name) for url, name in CREATED if name in ours]
        assert sorted(drop_created_databases(postgres_server, mine)) == sorted(ours)
        assert mine == []
        assert databases(postgres_server, prefix) == {theirs}
    finally:
        held.close()
        with admin.connection() as c:
            c.run(f'DROP DATABASE IF EXISTS "{theirs}"')
        admin.close()
