"""The migration step's program, run inside the NEW artefact on the idle VM (a release directory
locally, the image on AWS), so the migrations applied are the ones that version ships.

Rule (README, "Deploying"): while the old version still serves, migrations are expand-only
(add tables, nullable columns, indexes; never drop/rename what the old code reads). A migration
whose first line says `-- destructive` is refused here before anything is applied; ship it in a
later deploy, once no running version needs the old shape, with `make migrate` and
ALLOW_DESTRUCTIVE_MIGRATIONS=1 by hand.

Two database roles (docs/infrastructure.md): migrations run as the schema's owner, named by
DATABASE_OWNER_URL or DATABASE_OWNER_SECRET_ARN (RDS's secret JSON; on the VMs only in
/etc/lending/migrate.env, never in the app's environment); the app connects as its own role,
the one its settings name (DATABASE_SECRET_ARN / DATABASE_URL). After migrating, this program
makes that role exist with the app secret's password (sent as a SCRAM verifier, so the password
itself never reaches the server's logs) and grants it SELECT, INSERT, UPDATE, DELETE on the
schema's tables and nothing else: it owns nothing, cannot create, alter, drop or truncate, and
only reads schema_migrations. Every statement is idempotent; it runs on every deploy (so a
rotated app password is applied by the next deploy). Without an owner setting, it migrates with
the app's own URL, as before (one role, for local estates and development).
Prints one JSON line: {"applied": [...], "app_role": name-or-null} (exit 0) or {"refused": [...]} (exit 3).
"""

SCRIPT = """
import base64, json, os, sys
from urllib.parse import quote, unquote, urlencode, urlparse
try:
    import lending_aws
except ModuleNotFoundError:
    lending_aws = None
if lending_aws is not None:
    lending_aws.bootstrap()
import scramp
from pg8000.native import identifier, literal
try:
    from lending_settings import migration_settings
except ModuleNotFoundError:  # an artefact from before typed settings
    from lending.config import settings as migration_settings
from lending_postgres import ConnectionPool
from lending_postgres.migrate import MIGRATIONS, is_destructive, migrate, pending_migrations


def with_tls(url):
    query = {k: v for k, v in (("sslmode", os.environ.get("DATABASE_SSLMODE")),
                               ("sslrootcert", os.environ.get("DATABASE_SSLROOTCERT"))) if v}
    return url + ("?" + urlencode(query) if query else "")


def owner_url():
    if os.environ.get("DATABASE_OWNER_URL"):
        return os.environ["DATABASE_OWNER_URL"]
    arn = os.environ.get("DATABASE_OWNER_SECRET_ARN")
    if not arn:
        return None
    s = json.loads(lending_aws.AwsResolver()("secret", arn))
    dbname = s.get("dbname") or os.environ.get("DATABASE_NAME") or "postgres"
    return with_tls(f"postgresql://{quote(s['username'], safe='')}:{quote(s['password'], safe='')}@"
                    f"{s['host']}:{int(s.get('port') or 5432)}/{quote(dbname, safe='')}")


def verifier(password):
    salt, stored, server, iterations = scramp.ScramMechanism("SCRAM-SHA-256").make_auth_info(password, 4096)
    b64 = lambda raw: base64.b64encode(raw).decode()
    return f"SCRAM-SHA-256${iterations}:{b64(salt)}${b64(stored)}:{b64(server)}"


def ensure_app_role(conn, app_url):
    app = urlparse(app_url)
    role, password = unquote(app.username or ""), unquote(app.password or "")
    owner = conn.run("SELECT current_user")[0][0]
    if not role or role == owner:
        return None
    r, o = identifier(role), identifier(owner)
    exists = conn.run("SELECT 1 FROM pg_roles WHERE rolname = :r", r=role)
    secret = f" PASSWORD {literal(verifier(password))}" if password else ""
    conn.run(f"{'ALTER' if exists else 'CREATE'} ROLE {r} WITH LOGIN{secret}")
    db = identifier(conn.run("SELECT current_database()")[0][0])
    for statement in (
        f"GRANT CONNECT ON DATABASE {db} TO {r}",
        f"GRANT USAGE ON SCHEMA public TO {r}",
        f"GRANT SELECT, INSERT, UPDATE, DELETE ON ALL TABLES IN SCHEMA public TO {r}",
        f"REVOKE INSERT, UPDATE, DELETE, TRUNCATE, REFERENCES, TRIGGER ON schema_migrations FROM {r}",
        f"GRANT USAGE, SELECT ON ALL SEQUENCES IN SCHEMA public TO {r}",
        f"ALTER DEFAULT PRIVILEGES FOR ROLE {o} IN SCHEMA public GRANT SELECT, INSERT, UPDATE, DELETE ON TABLES TO {r}",
        f"ALTER DEFAULT PRIVILEGES FOR ROLE {o} IN SCHEMA public GRANT USAGE, SELECT ON SEQUENCES TO {r}",
    ):
        conn.run(statement)
    return role


app_url = migration_settings().database_url
pool = ConnectionPool(owner_url() or app_url, size=1)
try:
    refused = [name for name in pending_migrations(pool) if is_destructive(MIGRATIONS / name)]
    if refused:
        print(json.dumps({"refused": refused}))
        sys.exit(3)
    applied = migrate(pool, allow_destructive=False)
    with pool.connection() as conn:
        role = ensure_app_role(conn, app_url)
    print(json.dumps({"applied": applied, "app_role": role}))
finally:
    pool.close()
"""
REFUSED_EXIT = 3


def explain_refusal(names: list[str]) -> str:
    return (f"refused destructive migration(s) {', '.join(names)}: migrations must be expand-only while the old "
            "version serves (docs/deploying.md)")
