"""Apply pending migrations to DATABASE_URL (once per schema version, under an advisory lock)."""

import os
import sys

from lending_postgres import ConnectionPool, migrate


def main() -> int:
    url = os.environ.get("DATABASE_URL")
    if not url:
        print("DATABASE_URL is required", file=sys.stderr)
        return 2
    pool = ConnectionPool(url, size=1)
    applied = migrate(pool, allow_destructive=os.environ.get("ALLOW_DESTRUCTIVE_MIGRATIONS") == "1")
    print("applied: " + (", ".join(applied) if applied else "nothing (schema current)"))
    return 0


if __name__ == "__main__":
    sys.exit(main())
