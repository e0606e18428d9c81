"""The schema and the store with one guard taken away, to show that the other still settles races.

Nothing here is a switch in production code: a variant schema is the real migrations' SQL
with statements cut out, applied to a scratch database; the store without its status check
is the real PostgresStore on a real pool whose connections run its SQL minus that check.
"""

from __future__ import annotations

import re
import threading
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

import pg8000.native

from lending.model import Authorization
from lending_postgres import ConnectionPool, migrate
from lending_postgres.connection import connect_params
from lending_postgres.migrate import all_migrations, execute
from tests.conftest import create_database
from tests.support.fakes import FakeGateway

UNIQUE_COPY_INDEXES = ("loans_one_open_per_book", "purchases_one_sale_per_book")
STATUS_CHECK = " AND status = :from"  # the conditional update's check in lending_postgres.store._move_book


def scratch_database(server_url: str, *, without: tuple[str, ...] = (), isolation: str | None = None) -> str:
    """A new database with the migrations applied, minus the CREATE statements of the guards named."""
    url = create_database(server_url, f"lending_guards_{uuid.uuid4().hex[:8]}")
    if not without:
        pool = ConnectionPool(url, size=1)
        migrate(pool)
        pool.close()
    else:
        c = pg8000.native.Connection(**connect_params(url))
        for path in all_migrations():
            sql = path.read_text()
            for guard in without:
                sql = re.sub(rf"CREATE UNIQUE INDEX {guard}\b[^;]*;", "", sql)
            execute(c, path, sql)
        left = c.run("SELECT relname FROM pg_class WHERE relname = ANY(:g)", g=list(without))
        assert left == [], f"variant still has {left}"
        c.close()
    if isolation:
        c = pg8000.native.Connection(**connect_params(url))
        c.run(f"ALTER DATABASE \"{url.rpartition('/')[2]}\" SET default_transaction_isolation = '{isolation}'")
        c.close()
    return url


def drop_database(server_url: str, url: str) -> None:
    admin = ConnectionPool(server_url, size=1, timeout=60, statement_timeout_ms=0)  # DDL on a busy server takes time
    with admin.connection() as c:
        c.run(f"DROP DATABASE IF EXISTS \"{url.rpartition('/')[2]}\" WITH (FORCE)")
    admin.close()


class _Rewriting:
    def __init__(self, conn: pg8000.native.Connection, rewrite: Callable[[str], str]) -> None:
        self._conn, self._rewrite = conn, rewrite

    def run(self, sql: str, **params: Any) -> Any:
        return self._conn.run(self._rewrite(sql), **params)

    def pipeline(self, *statements: tuple[str, dict[str, Any]], commit: bool = False) -> Any:
        return self._conn.pipeline(*((self._rewrite(sql), params) for sql, params in statements), commit=commit)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._conn, name)


class RewritingPool:
    """A real ConnectionPool whose connections run each statement through `rewrite` first."""

    def __init__(self, pool: ConnectionPool, rewrite: Callable[[str], str]) -> None:
        self._pool, self._rewrite = pool, rewrite

    @contextmanager
    def connection(self) -> Iterator[_Rewriting]:
        with self._pool.connection() as c:
            yield _Rewriting(c, self._rewrite)

    @contextmanager
    def transaction(self) -> Iterator[_Rewriting]:
        with self._pool.transaction() as c:
            yield _Rewriting(c, self._rewrite)

    def read(self, query: Callable[[Any], Any]) -> Any:
        return self._pool.read(lambda c: query(_Rewriting(c, self._rewrite)))


def without_status_check(sql: str) -> str:
    return sql.replace(STATUS_CHECK, "")


class GatedGateway:
    """The in-memory fake gateway, holding every racer at its card's confirmation until all have
    reached it: so all of them have passed the service's courtesy check and meet in the store."""

    def __init__(self, racers: int) -> None:
        self.fake = FakeGateway()
        self._gate = threading.Barrier(racers)

    def confirm_authorization(self, intent_id: str, idempotency_key: str) -> Authorization:
        self._gate.wait(timeout=60)
        return self.fake.confirm_authorization(intent_id, idempotency_key)

    def __getattr__(self, name: str) -> Any:
        return getattr(self.fake, name)
