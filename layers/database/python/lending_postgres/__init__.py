"""PostgreSQL adapter (pg8000): the LendingStore port, migrations and a small pool.

Vendor errors never leave this package: connection failures become
`lending.errors.DatabaseUnavailable`.
"""

from lending_postgres.connection import ConnectionPool, connect_params
from lending_postgres.factory import store_from
from lending_postgres.migrate import migrate, pending_migrations
from lending_postgres.store import PostgresStore

__all__ = ["ConnectionPool", "PostgresStore", "connect_params", "migrate", "pending_migrations", "store_from"]
