"""Build the store once per process from the settings."""

from __future__ import annotations

from datetime import timedelta
from functools import lru_cache

from lending_postgres.connection import ConnectionPool
from lending_postgres.replica import ReplicaPool
from lending_postgres.store import PostgresStore
from lending_settings import Settings


def _ms(period: timedelta) -> int:
    return int(period.total_seconds() * 1000)


@lru_cache(maxsize=4)
def store_from(settings: Settings) -> PostgresStore:
    statement, lock = _ms(settings.db_statement_timeout), _ms(settings.db_lock_timeout)
    pool = ConnectionPool(settings.database_url, size=settings.db_pool_size, timeout=settings.db_timeout_seconds,
                          statement_timeout_ms=statement, lock_timeout_ms=lock)
    reader = None
    if settings.database_read_url:
        replica = ConnectionPool(settings.database_read_url, size=settings.db_pool_size,
                                 timeout=settings.db_timeout_seconds, application_name="lending-reader",
                                 statement_timeout_ms=statement, lock_timeout_ms=lock)
        # Catalogue reads on the replica, falling back to the primary when it is down or too far behind.
        reader = ReplicaPool(replica, pool, max_lag_seconds=settings.database_read_max_lag_seconds)
    return PostgresStore(pool, reader)
