"""The migration step's program, run inside the NEW artefact on the idle VM (a release directory
locally, the image on AWS), so the migrations applied are the ones that version ships.

Rule (docs/deploying.md, "The steps"): while the old version still serves, migrations are expand-only
(add tables, nullable columns, indexes; never drop/rename what the old code reads). A migration
whose first line says `-- destructive` is refused here before anything is applied; ship it in a
later deploy, once no running version needs the old shape, with `make migrate` and
ALLOW_DESTRUCTIVE_MIGRATIONS=1 by hand.
Prints one JSON line: {"applied": [...]} (exit 0) or {"refused": [...]} (exit 3).
"""

SCRIPT = """
import json, sys
try:
    import lending_aws
except ModuleNotFoundError:
    lending_aws = None
if lending_aws is not None:
    lending_aws.bootstrap()
try:
    from lending_settings import migration_settings
except ModuleNotFoundError:  # an artefact from before typed settings
    from lending.config import settings as migration_settings
from lending_postgres import ConnectionPool
from lending_postgres.migrate import MIGRATIONS, is_destructive, migrate, pending_migrations
pool = ConnectionPool(migration_settings().database_url, size=1)
try:
    refused = [name for name in pending_migrations(pool) if is_destructive(MIGRATIONS / name)]
    if refused:
        print(json.dumps({"refused": refused}))
        sys.exit(3)
    print(json.dumps({"applied": migrate(pool, allow_destructive=False)}))
finally:
    pool.close()
"""
REFUSED_EXIT = 3


def explain_refusal(names: list[str]) -> str:
    return (f"refused destructive migration(s) {', '.join(names)}: migrations must be expand-only while the old "
            "version serves (docs/deploying.md)")
