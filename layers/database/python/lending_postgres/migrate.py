"""Ordered SQL migrations, applied once per schema version under an advisory lock.

Two instances starting at once serialise on the lock; the second finds nothing to do.
A migration whose first line contains `-- destructive` is refused by `migrate(...,
allow_destructive=False)` (the deploy's rule: expand-only while old code still serves).
"""

from __future__ import annotations

from pathlib import Path

import pg8000.native

from lending_postgres.connection import ConnectionPool

MIGRATIONS = Path(__file__).with_name("migrations")
_LOCK_ID = 7_311_955_001


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


def migrate(pool: ConnectionPool, *, allow_destructive: bool = True) -> list[str]:
    """Apply pending migrations; returns the names applied."""
    applied: list[str] = []
    with pool.connection() as conn:
        conn.run("SELECT pg_advisory_lock(:id)", id=_LOCK_ID)
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
