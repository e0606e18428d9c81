"""A database at today's schema (0001 + 0003) with loans, sales and payments in it migrates to
circulation's schema with every row and id kept; copies of one ISBN become one title."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from typing import Any

import pytest

from lending_postgres import ConnectionPool, migrate
from lending_postgres.migrate import MIGRATIONS
from tests.conftest import create_database

BEFORE = ("0001_catalogue_loans_purchases.sql", "0003_reconcile_backoff.sql")
TABLES = ("books", "loans", "purchases", "payments", "book_status_history")


@pytest.fixture
def old_database(postgres_server: str) -> Iterator[ConnectionPool]:
    pool = ConnectionPool(create_database(postgres_server, f"lending_old_{uuid.uuid4().hex[:8]}"), size=2)
    with pool.connection() as c:
        c.run("CREATE TABLE schema_migrations (name text PRIMARY KEY, applied_at timestamptz NOT NULL DEFAULT now())")
        for name in BEFORE:
            c.execute_simple((MIGRATIONS / name).read_text())
            c.run("INSERT INTO schema_migrations (name) VALUES (:n)", n=name)
    yield pool
    pool.close()


def _fill(c: Any) -> dict[str, str]:
    """What today's code writes: three copies of one ISBN, one of another; a loan, a return, a sale."""
    ids = {k: str(uuid.uuid4()) for k in ("h1", "h2", "h3", "emma", "pay_loan", "pay_old", "pay_sale", "loan", "old",
                                          "sale", "pay_failed")}
    for key, isbn, title in (("h1", "9780261102217", "The Hobbit"), ("h2", "9780261102217", "The Hobbit (2nd)"),
                             ("h3", "9780261102217", "The Hobbit"), ("emma", "9780141439587", "Emma")):
        c.run("INSERT INTO books (book_id, isbn, title, author, price_cents, borrow_fee_cents, currency) "
              "VALUES (CAST(:id AS uuid), :isbn, :t, 'Someone', 1500, 200, 'usd')", id=ids[key], isbn=isbn, t=title)
    for pay, kind, book in (("pay_loan", "borrow_fee", "h1"), ("pay_old", "borrow_fee", "h2"),
                            ("pay_sale", "purchase", "emma"), ("pay_failed", "borrow_fee", "h3")):
        state = "failed" if pay == "pay_failed" else "captured"
        c.run("INSERT INTO payments (payment_id, kind, book_id, payer_iss, payer_sub, amount_cents, currency, state) "
              "VALUES (CAST(:p AS uuid), :k, CAST(:b AS uuid), 'iss', 'alice', 200, 'usd', :s)",
              p=ids[pay], k=kind, b=ids[book], s=state)
    c.run("UPDATE books SET status = 'borrowed' WHERE book_id = CAST(:b AS uuid)", b=ids["h1"])
    c.run("INSERT INTO loans (loan_id, book_id, borrower_iss, borrower_sub, payment_id, due_at) "
          "VALUES (CAST(:l AS uuid), CAST(:b AS uuid), 'iss', 'alice', CAST(:p AS uuid), now() + interval '21 days')",
          l=ids["loan"], b=ids["h1"], p=ids["pay_loan"])
    c.run("INSERT INTO loans (loan_id, book_id, borrower_iss, borrower_sub, payment_id, due_at, returned_at, "
          "closed_reason) VALUES (CAST(:l AS uuid), CAST(:b AS uuid), 'iss', 'alice', CAST(:p AS uuid), now(), now(), "
          "'returned')", l=ids["old"], b=ids["h2"], p=ids["pay_old"])
    c.run("UPDATE books SET status = 'sold' WHERE book_id = CAST(:b AS uuid)", b=ids["emma"])
    c.run("INSERT INTO purchases (purchase_id, book_id, buyer_iss, buyer_sub, payment_id) "
          "VALUES (CAST(:s AS uuid), CAST(:b AS uuid), 'iss', 'bob', CAST(:p AS uuid))",
          s=ids["sale"], b=ids["emma"], p=ids["pay_sale"])
    c.run("UPDATE payments SET loan_id = CAST(:l AS uuid) WHERE payment_id = CAST(:p AS uuid)", l=ids["loan"], p=ids["pay_loan"])
    c.run("UPDATE payments SET loan_id = CAST(:l AS uuid) WHERE payment_id = CAST(:p AS uuid)", l=ids["old"], p=ids["pay_old"])
    c.run("UPDATE payments SET purchase_id = CAST(:s AS uuid) WHERE payment_id = CAST(:p AS uuid)",
          s=ids["sale"], p=ids["pay_sale"])
    return ids


def _snapshot(c: Any) -> dict[str, list[Any]]:
    """Every row of today's tables, in today's columns."""
    columns = {t: [r[0] for r in c.run("SELECT column_name FROM information_schema.columns WHERE table_name = :t "
                                       "AND column_name NOT IN ('title_id', 'renewals', 'renewal_id') "
                                       "ORDER BY ordinal_position", t=t)] for t in TABLES}
    return {t: c.run(f"SELECT {', '.join(columns[t])} FROM {t} ORDER BY 1") for t in TABLES}


def test_todays_rows_and_ids_survive_and_copies_of_one_isbn_become_one_title(old_database: ConnectionPool) -> None:
    with old_database.connection() as c:
        ids = _fill(c)
        before = _snapshot(c)

    applied = migrate(old_database)

    assert {"0004_circulation_expand.sql", "0005_circulation_backfill.sql", "0006_circulation_title_required.sql",
            "0007_circulation_validate.sql"} <= set(applied)
    with old_database.connection() as c:
        assert _snapshot(c) == before
        titles = c.run("SELECT t.isbn, t.title, count(b.book_id) FROM titles t JOIN books b USING (title_id) "
                       "GROUP BY t.title_id ORDER BY t.isbn")
        assert titles == [["9780141439587", "Emma", 1], ["9780261102217", "The Hobbit", 3]]
        assert c.run("SELECT count(*) FROM books WHERE title_id IS NULL")[0][0] == 0
        assert c.run("SELECT count(*) FROM loans WHERE renewals <> 0")[0][0] == 0
        # every constraint 0004 added NOT VALID is validated now
        assert c.run("SELECT conname FROM pg_constraint WHERE NOT convalidated") == []
        # 0012_search backfilled each title's counts (copies not withdrawn, available, holds) and words
        counts = "SELECT t.isbn, c.copies_total, c.copies_available, c.holds_waiting FROM titles t JOIN title_counts c " \
                 "USING (title_id) ORDER BY t.isbn"
        assert c.run(counts) == [["9780141439587", 1, 0, 0], ["9780261102217", 3, 2, 0]]
        assert c.run("SELECT count(*) FROM search_words WHERE word IN ('hobbit', 'emma', 'someone')")[0][0] == 3
        # the version before this one still works against the new schema: it adds copies without a title ...
        c.run("INSERT INTO books (book_id, isbn, title, author, price_cents, borrow_fee_cents, currency) "
              "VALUES (CAST(:id AS uuid), '9780261102217', 'The Hobbit', 'Someone', 1500, 200, 'usd')",
              id=str(uuid.uuid4()))
        assert c.run("SELECT count(DISTINCT title_id) FROM books WHERE isbn = '9780261102217'")[0][0] == 1
        assert c.run(counts)[1] == ["9780261102217", 4, 3, 0]  # counted by the trigger, whatever code adds it
        # ... and lends them as it always did
        c.run("UPDATE books SET status = 'available' WHERE book_id = CAST(:b AS uuid)", b=ids["h2"])
    assert migrate(old_database) == []


def test_between_expand_and_backfill_the_old_version_still_lends_copies_without_a_title(
        old_database: ConnectionPool) -> None:
    """0004 committed, 0005 not yet: what the old version does to a copy not yet backfilled (lend it,
    return it, sell it) is allowed; only once every copy has its title does 0006 require one."""
    with old_database.connection() as c:
        ids = _fill(c)
        for name in ("0002_guards.sql", "0003_payments_by_key.sql", "0004_circulation_expand.sql"):
            c.execute_simple((MIGRATIONS / name).read_text())
            c.run("INSERT INTO schema_migrations (name) VALUES (:n)", n=name)
        assert c.run("SELECT count(*) FROM books WHERE title_id IS NULL")[0][0] == 4
        c.run("UPDATE books SET status = 'borrowed' WHERE book_id = CAST(:b AS uuid)", b=ids["h2"])
        c.run("UPDATE books SET status = 'available' WHERE book_id = CAST(:b AS uuid)", b=ids["h2"])
    applied = migrate(old_database)
    circulation = [name for name in applied if name.startswith(("0005_", "0006_", "0007_"))]  # later ones follow
    assert circulation == ["0005_circulation_backfill.sql", "0006_circulation_title_required.sql",
                           "0007_circulation_validate.sql"]
    with old_database.connection() as c:
        assert c.run("SELECT convalidated FROM pg_constraint WHERE conname = 'books_have_a_title'") == [[True]]
