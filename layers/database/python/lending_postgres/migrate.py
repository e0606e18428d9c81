"""Ordered SQL migrations, applied once per schema version under an advisory lock.

Two instances starting at once serialise on the lock; the second finds nothing to do.
A migration whose first line contains `-- destructive` is refused by `migrate(...,
allow_destructive=False)` (the deploy's rule: expand-only while old code still serves).
A migration whose first line contains `-- no-transaction` runs outside a transaction, one statement at
a time (split at each `;` that ends a line), for what PostgreSQL refuses inside one: CREATE INDEX
CONCURRENTLY, which builds an index while writes go on. Its statements must be safe to run again
(a crash between them leaves it unrecorded): e.g. DROP INDEX CONCURRENTLY IF EXISTS, then CREATE.

Migrations run on a connection of their own with longer bounds than requests get
(`statement_timeout_ms`, `lock_timeout_ms`): a migration may take minutes, but it must
not queue for long behind live traffic's locks (and so block that traffic behind it).
"""

from __future__ import annotations

import contextlib
import re
from pathlib import Path

import pg8000.native
from pg8000.exceptions import DatabaseError

from lending_postgres.connection import ConnectionPool, sqlstate

MIGRATIONS = Path(__file__).with_name("migrations")
_LOCK_ID = 7_311_955_001
MIGRATION_STATEMENT_TIMEOUT_MS = 600_000
MIGRATION_LOCK_TIMEOUT_MS = 10_000


class DestructiveMigration(Exception):
    pass


def all_migrations() -> list[Path]:
    return sorted(MIGRATIONS.glob("*.sql"))


def _applied(conn: pg8000.native.Connection) -> set[str]:
    conn.run("CREATE TABLE IF NOT EXISTS schema_migrations "
             "(name text PRIMARY KEY, applied_at timestamptz NOT NULL DEFAULT now())")
    return {row[0] for row in conn.run("SELECT name FROM schema_migrations")}


def pending_migrations(pool: ConnectionPool) -> list[str]:
    with pool.connection() as conn:
        exists = conn.run("SELECT to_regclass('schema_migrations') IS NOT NULL")[0][0]
        done = {r[0] for r in conn.run("SELECT name FROM schema_migrations")} if exists else set()
    return [p.name for p in all_migrations() if p.name not in done]


def _first_line_says(path: Path, marker: str) -> bool:
    first = path.read_text().splitlines()[:1]
    return bool(first) and marker in first[0].lower()


def is_destructive(path: Path) -> bool:
    return _first_line_says(path, "-- destructive")


def runs_outside_a_transaction(path: Path) -> bool:
    return _first_line_says(path, "-- no-transaction")


def execute(conn: pg8000.native.Connection, path: Path, sql: str | None = None) -> None:
    """Run one migration's SQL (`sql`: its text, edited) as migrate() does, without recording it."""
    text = path.read_text() if sql is None else sql
    if runs_outside_a_transaction(path):
        for statement in statements(text):
            conn.run(statement)
    else:
        conn.execute_simple(text)


def statements(sql: str) -> list[str]:
    """A no-transaction migration's statements: comment lines dropped, split at a `;` that ends a line."""
    text = "\n".join(line for line in sql.splitlines() if not line.lstrip().startswith("--"))
    return [s.strip() for s in re.split(r";[ \t]*$", text, flags=re.MULTILINE) if s.strip()]


_DEADLOCK_RETRIES = 5


def _deadlocked(exc: BaseException) -> bool:
    return sqlstate(exc) == "40P01"


def migrate(pool: ConnectionPool, *, allow_destructive: bool = True,
            statement_timeout_ms: int = MIGRATION_STATEMENT_TIMEOUT_MS,
            lock_timeout_ms: int = MIGRATION_LOCK_TIMEOUT_MS) -> list[str]:
    """Apply pending migrations; returns the names applied."""
    applied: list[str] = []
    with pool.dedicated(statement_timeout_ms=statement_timeout_ms, lock_timeout_ms=lock_timeout_ms) as conn:
        # Waiting for another instance's migration is not a lock wait to cut short (statement_timeout still bounds it).
        conn.run("SET lock_timeout = 0")
        conn.run("SELECT pg_advisory_lock(:id)", id=_LOCK_ID)
        conn.run(f"SET lock_timeout = {int(lock_timeout_ms)}")
        # A deadlock with live traffic should abort the migration (retried below), not a patron's request:
        # this session looks for deadlocks first. Superuser only; elsewhere the server's default stands.
        with contextlib.suppress(DatabaseError):
            conn.run("SET deadlock_timeout = '50ms'")
        try:
            done = _applied(conn)
            for path in all_migrations():
                if path.name in done:
                    continue
                if is_destructive(path) and not allow_destructive:
                    raise DestructiveMigration(f"{path.name} is marked destructive")
                if runs_outside_a_transaction(path):
                    execute(conn, path)
                    conn.run("INSERT INTO schema_migrations (name) VALUES (:n)", n=path.name)
                    applied.append(path.name)
                    continue
                for attempt in range(_DEADLOCK_RETRIES + 1):
                    conn.run("BEGIN")
                    try:
                        execute(conn, path)
                        conn.run("INSERT INTO schema_migrations (name) VALUES (:n)", n=path.name)
                        conn.run("COMMIT")
                        break
                    except BaseException as exc:
                        conn.run("ROLLBACK")
                        if attempt == _DEADLOCK_RETRIES or not _deadlocked(exc):
                            raise
                applied.append(path.name)
        finally:
            conn.run("SELECT pg_advisory_unlock(:id)", id=_LOCK_ID)
    return applied
