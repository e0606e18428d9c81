"""Apply pending migrations to DATABASE_URL (once per schema version, under an advisory lock)."""

import sys

from lending_aws import bootstrap
from lending_postgres import ConnectionPool, migrate
from lending_settings import ConfigError, migration_settings


def main() -> int:
    try:
        bootstrap()  # settings held in AWS
        config = migration_settings()
    except ConfigError as exc:
        print(exc, file=sys.stderr)
        return 2
    pool = ConnectionPool(config.database_url, size=1)
    applied = migrate(pool, allow_destructive=config.allow_destructive_migrations,
                      statement_timeout_ms=int(config.db_migration_statement_timeout.total_seconds() * 1000),
                      lock_timeout_ms=int(config.db_migration_lock_timeout.total_seconds() * 1000))
    print("applied: " + (", ".join(applied) if applied else "nothing (schema current)"))
    return 0


if __name__ == "__main__":
    sys.exit(main())
