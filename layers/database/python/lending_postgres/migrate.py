"""Ordered SQL migrations, applied once per schema version under an advisory lock.

Two instances starting at once serialise on the lock; the second finds nothing to do.
A migration whose first line contains `-- destructive` is refused by `migrate(...,
allow_destructive=False)` (the deploy's rule: expand-only while old code still serves).

Migrations run on a connection of their own with longer bounds than requests get
(`statement_timeout_ms`, `lock_timeout_ms`): a migration may take minutes, but it must
not queue for long behind live traffic's locks (and so block that traffic behind it).
"""

from __future__ import annotations

from pathlib import Path

import pg8000.native

from lending_postgres.connection import ConnectionPool

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


def is_destructive(path: Path) -> bool:
    first = path.read_text().splitlines()[:1]
    return bool(first) and "-- destructive" in first[0].lower()


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
        try:
            done = _applied(conn)
            for path in all_migrations():
                if path.name in done:
                    continue
                if is_destructive(path) and not allow_destructive:
                    raise DestructiveMigration(f"{path.name} is marked destructive")
                conn.run("BEGIN")
                try:
                    conn.execute_simple(path.read_text())
                    conn.run("INSERT INTO schema_migrations (name) VALUES (:n)", n=path.name)
                    conn.run("COMMIT")
                except BaseException:
                    conn.run("ROLLBACK")
                    raise
                applied.append(path.name)
        finally:
            conn.run("SELECT pg_advisory_unlock(:id)", id=_LOCK_ID)
    return applied
