"""Fixtures for tests that go straight to PostgreSQL, past the application."""

from __future__ import annotations

from collections.abc import Iterator

import pg8000.native
import pytest

from lending_postgres.connection import connect_params
from tests.integration.seed import seed


@pytest.fixture
def db(database_url: str) -> Iterator[tuple[pg8000.native.Connection, dict[str, str]]]:
    """A raw connection to the suite's migrated database, in a transaction that is always rolled back,
    with the world of tests/integration/seed.py written into it."""
    c = pg8000.native.Connection(**connect_params(database_url, application_name="lending constraint tests"))
    try:
        c.run("BEGIN")
        c.run("SET LOCAL lock_timeout = '10s'")
        yield c, seed(c)
    finally:
        try:
            c.run("ROLLBACK")
        finally:
            c.close()
