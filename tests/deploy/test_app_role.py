"""The migration step on real PostgreSQL: migrations as the owner, then the app's own role with DML
on the service's tables and nothing more; idempotent, and a new password applied as a SCRAM verifier."""

from __future__ import annotations

import base64
import json
import os
import subprocess
import sys
import uuid
from urllib.parse import urlparse, urlunparse

import pytest
import scramp
from pg8000.exceptions import DatabaseError

from deploy import migration
from dev.embedded import ROOT
from lending_postgres import ConnectionPool
from tests.conftest import create_database

TABLES = ["books", "book_status_history", "payments", "loans", "purchases", "idempotency_keys", "processor_events"]


def as_user(url: str, user: str, password: str) -> str:
    parsed = urlparse(url)
    host = parsed.netloc.rpartition("@")[2]
    return urlunparse(parsed._replace(netloc=f"{user}:{password}@{host}"))


def run_step(owner_url: str, app_url: str) -> dict[str, object]:
    env = {"PATH": os.environ["PATH"], "HOME": os.environ.get("HOME", "/tmp"), "DATABASE_OWNER_URL": owner_url,  # noqa: S108
           "DATABASE_URL": app_url, "STRIPE_API_KEY": "sk_test_role", "OIDC_ISSUER": "http://127.0.0.1:9",
           "OIDC_AUDIENCE": "role-test", "LENDING_METRICS": "off"}
    run = subprocess.run([sys.executable, "-c", migration.SCRIPT], cwd=ROOT, env=env, capture_output=True, text=True,
                         timeout=120, check=False)
    assert run.returncode == 0, run.stdout + run.stderr
    return dict(json.loads(run.stdout.strip().splitlines()[-1]))


def refused(pool: ConnectionPool, statement: str) -> str:
    with pool.connection() as conn, pytest.raises(DatabaseError) as caught:
        conn.run(statement)
    return str(caught.value.args[0].get("C"))


def test_migrations_run_as_the_owner_and_the_app_role_gets_dml_only(postgres_server: str) -> None:
    owner = create_database(postgres_server, f"lending_role_{uuid.uuid4().hex[:8]}")
    role = f"lending_app_{uuid.uuid4().hex[:6]}"
    outcome = run_step(owner, as_user(owner, role, "first-password"))
    assert outcome["app_role"] == role and "0001_catalogue_loans_purchases.sql" in str(outcome["applied"])

    admin = ConnectionPool(owner, size=1)
    app = ConnectionPool(as_user(owner, role, "first-password"), size=1)
    try:
        with admin.connection() as conn:
            owners = {r[0] for r in conn.run("SELECT DISTINCT tableowner FROM pg_tables WHERE schemaname = 'public'")}
            attributes = conn.run("SELECT rolsuper, rolcreatedb, rolcreaterole, rolcanlogin FROM pg_roles "
                                  "WHERE rolname = :r", r=role)
            privileges = {(t, p): conn.run("SELECT has_table_privilege(:r, :t, :p)", r=role, t=t, p=p)[0][0]
                          for t in [*TABLES, "schema_migrations"]
                          for p in ("SELECT", "INSERT", "UPDATE", "DELETE", "TRUNCATE", "REFERENCES", "TRIGGER")}
        assert role not in owners  # the migrations made the tables as the owner
        assert attributes == [[False, False, False, True]]
        for table in TABLES:
            assert [p for p in ("SELECT", "INSERT", "UPDATE", "DELETE") if not privileges[(table, p)]] == [], table
            assert [p for p in ("TRUNCATE", "REFERENCES", "TRIGGER") if privileges[(table, p)]] == [], table
        assert privileges[("schema_migrations", "SELECT")]
        assert not any(privileges[("schema_migrations", p)] for p in ("INSERT", "UPDATE", "DELETE", "TRUNCATE"))

        # As the app: it reads and writes rows, and nothing else.
        with app.connection() as conn:
            assert conn.run("SELECT current_user")[0][0] == role
            conn.run("DELETE FROM idempotency_keys WHERE false")
            conn.run("SELECT count(*) FROM books")
        assert refused(app, "CREATE TABLE app_made (id int)") == "42501"
        assert refused(app, "ALTER TABLE books ADD COLUMN app_made int") == "42501"
        assert refused(app, "DROP TABLE loans") == "42501"
        assert refused(app, "TRUNCATE books") == "42501"
        assert refused(app, "INSERT INTO schema_migrations (name) VALUES ('9999_forged.sql')") == "42501"

        # A table a later migration adds (as the owner) is the app's to use at once: default privileges.
        with admin.connection() as conn:
            conn.run("CREATE TABLE later_table (id int)")
        with app.connection() as conn:
            conn.run("INSERT INTO later_table VALUES (1)")
            assert conn.run("SELECT id FROM later_table") == [[1]]

        # Again, with a rotated password: nothing fails, the role keeps its grants, its verifier changes.
        again = run_step(owner, as_user(owner, role, "rotated-password"))
        assert again == {"applied": [], "app_role": role}
        with admin.connection() as conn:
            stored = conn.run("SELECT rolpassword FROM pg_authid WHERE rolname = :r", r=role)[0][0]
        assert stored.startswith("SCRAM-SHA-256$4096:")
        assert accepts(stored, role, "rotated-password") and not accepts(stored, role, "first-password")
    finally:
        app.close()
        admin.close()


def accepts(stored: str, user: str, password: str) -> bool:
    """Does PostgreSQL's stored SCRAM verifier accept this password? A full SCRAM exchange against it."""
    iterations_salt, keys = stored.removeprefix("SCRAM-SHA-256$").split("$")
    iterations, salt = iterations_salt.split(":")
    stored_key, server_key = keys.split(":")
    info = (base64.b64decode(salt), base64.b64decode(stored_key), base64.b64decode(server_key), int(iterations))
    server = scramp.ScramMechanism("SCRAM-SHA-256").make_server(lambda _: info)
    client = scramp.ScramClient(["SCRAM-SHA-256"], user, password)
    server.set_client_first(client.get_client_first())
    client.set_server_first(server.get_server_first())
    try:
        server.set_client_final(client.get_client_final())
    except scramp.ScramException:
        return False
    return True


def test_without_an_owner_setting_the_step_migrates_as_the_app_and_makes_no_role(postgres_server: str) -> None:
    url = create_database(postgres_server, f"lending_role_{uuid.uuid4().hex[:8]}")
    env_owner = ""
    outcome = run_step(env_owner, url)
    assert outcome["app_role"] is None and outcome["applied"]
