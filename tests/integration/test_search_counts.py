"""Each title's counts (title_counts: copies_total, copies_available, holds_waiting; migration 0012_search_2) are kept by
triggers, whatever moves a copy or a hold: after every step here they equal a recount from books and holds,
and search and the title page show them. Also the words a typo is forgiven against (search_words)."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pg8000.native
import pytest

from lending import payment_flow
from lending.catalogue_model import TitleQuery
from lending.model import Book, NewBook, PaymentKind, User
from lending_postgres import PostgresStore
from lending_postgres.connection import connect_params
from tests.support.fakes import FakeGateway

ALICE, BOB, CAROL = User("iss", "alice"), User("iss", "bob"), User("iss", "carol")
NOW = datetime.now(UTC)
RECOUNT = """
SELECT t.title_id::text, coalesce(c.copies_total, 0), coalesce(c.copies_available, 0), coalesce(c.holds_waiting, 0),
       (SELECT count(*) FROM books b WHERE b.title_id = t.title_id AND b.status <> 'withdrawn'),
       (SELECT count(*) FROM books b WHERE b.title_id = t.title_id AND b.status = 'available'),
       (SELECT count(*) FROM holds h WHERE h.title_id = t.title_id AND h.status = 'waiting')
  FROM titles t LEFT JOIN title_counts c USING (title_id) ORDER BY t.isbn
"""


def counts(run: Any, title_id: str) -> tuple[int, int, int]:
    """The title's kept counts, after checking that every title's kept counts equal a recount."""
    rows = run(RECOUNT)
    assert [r[1:4] for r in rows] == [r[4:7] for r in rows], rows
    return next(tuple(r[1:4]) for r in rows if r[0] == title_id)


def _lend(store: PostgresStore, book: Book, who: User) -> str:
    p = payment_flow.new_payment(PaymentKind.BORROW_FEE, book, who, idempotency_key=None, request_id=None)
    p = payment_flow.authorize(store, FakeGateway(), p, "pm_card_visa")
    return store.lend_copy_of_title(book.title_id or "", who, p.payment_id, NOW + timedelta(days=21)).book_id


@pytest.fixture
def raw(database_url: str) -> Iterator[pg8000.native.Connection]:
    c = pg8000.native.Connection(**connect_params(database_url, application_name="search counts tests"))
    yield c
    c.close()


def test_counts_follow_every_move_of_a_copy_and_a_hold(store: PostgresStore) -> None:
    def sql(q: str, **params: Any) -> Any:
        with store.pool.connection() as c:
            return c.run(q, **params)

    first = store.add_book(NewBook("9780261102217", "The Hobbit", "Tolkien", 1500, 200, "usd"))
    title = first.title_id or ""
    assert counts(sql, title) == (1, 1, 0)
    store.add_book(NewBook("9780261102217", "The Hobbit", "Tolkien", 1500, 200, "usd"))
    store.add_book(NewBook("9780141439587", "Emma", "Austen", 900, 100, "usd"))
    assert counts(sql, title) == (2, 2, 0)

    lent_to_alice = _lend(store, first, ALICE)
    assert counts(sql, title) == (2, 1, 0)
    lent_to_bob = _lend(store, first, BOB)
    assert counts(sql, title) == (2, 0, 0)
    hold = store.place_hold(title, CAROL, now=NOW, max_holds=10)
    assert counts(sql, title) == (2, 0, 1)
    store.close_loan(lent_to_bob, BOB, now=NOW)  # to the hold shelf, for Carol: her hold is ready
    assert counts(sql, title) == (2, 0, 0)
    store.cancel_hold(hold.hold_id, CAROL, now=NOW, pickup_period=timedelta(days=7))  # back on the shelf
    assert counts(sql, title) == (2, 1, 0)
    store.close_loan(lent_to_alice, ALICE, now=NOW)
    assert counts(sql, title) == (2, 2, 0)

    summary = store.search_titles(TitleQuery(text="hobbit")).items[0]
    assert (summary.copies_total, summary.copies_available, summary.holds_waiting) == (2, 2, 0)
    detail = store.get_title(title)
    assert detail is not None and (detail.summary.copies_total, detail.summary.copies_available) == (2, 2)

    sql("UPDATE books SET status = 'lost' WHERE book_id = CAST(:b AS uuid)", b=lent_to_alice)
    assert counts(sql, title) == (2, 1, 0)
    sql("UPDATE books SET status = 'withdrawn' WHERE book_id = CAST(:b AS uuid)", b=lent_to_alice)
    assert counts(sql, title) == (1, 1, 0)
    sql("UPDATE books SET status = 'sold' WHERE book_id = CAST(:b AS uuid)", b=lent_to_bob)
    assert counts(sql, title) == (1, 0, 0)
    assert store.search_titles(TitleQuery(text="hobbit", available=False)).total == 1


def test_a_hold_that_leaves_the_queue_leaves_the_count(store: PostgresStore) -> None:
    def sql(q: str, **params: Any) -> Any:
        with store.pool.connection() as c:
            return c.run(q, **params)

    book = store.add_book(NewBook("9780261102217", "The Hobbit", "Tolkien", 1500, 200, "usd"))
    title = book.title_id or ""
    _lend(store, book, ALICE)
    holds = [store.place_hold(title, who, now=NOW, max_holds=10) for who in (BOB, CAROL)]
    assert counts(sql, title) == (1, 0, 2)
    store.cancel_hold(holds[0].hold_id, BOB, now=NOW, pickup_period=timedelta(days=7))
    assert counts(sql, title) == (1, 0, 1)


def test_bulk_adds_moves_between_titles_and_deletes_are_counted(store: PostgresStore,
                                                                raw: pg8000.native.Connection) -> None:
    hobbit = store.add_book(NewBook("9780261102217", "The Hobbit", "Tolkien", 1500, 200, "usd"))
    emma = store.add_book(NewBook("9780141439587", "Emma", "Austen", 900, 100, "usd"))
    raw.run("BEGIN")
    try:
        raw.run("INSERT INTO books (book_id, isbn, title, author, price_cents, borrow_fee_cents, currency, title_id, status) "
                "SELECT gen_random_uuid(), '9780261102217', 'The Hobbit', 'Tolkien', 1500, 200, 'usd', "
                "CAST(:t AS uuid), s FROM unnest(ARRAY['available', 'available', 'withdrawn', 'lost']) AS s",
                t=hobbit.title_id)
        assert counts(raw.run, hobbit.title_id or "") == (4, 3, 0)
        raw.run("UPDATE books SET title_id = CAST(:t AS uuid) WHERE book_id = CAST(:b AS uuid)",
                t=emma.title_id, b=hobbit.book_id)
        assert counts(raw.run, hobbit.title_id or "") == (3, 2, 0)
        assert counts(raw.run, emma.title_id or "") == (2, 2, 0)
        raw.run("ALTER TABLE book_status_history DISABLE TRIGGER book_status_history_append_only")
        raw.run("DELETE FROM book_status_history WHERE book_id IN (SELECT book_id FROM books WHERE title_id = CAST(:t AS uuid))",
                t=emma.title_id)
        raw.run("DELETE FROM books WHERE title_id = CAST(:t AS uuid)", t=emma.title_id)
        assert counts(raw.run, emma.title_id or "") == (0, 0, 0)
    finally:
        raw.run("ROLLBACK")


def test_a_typo_is_forgiven_against_the_words_of_titles_added_or_renamed(store: PostgresStore) -> None:
    book = store.add_book(NewBook("9780261102217", "The Hobbit", "Tolkien", 1500, 200, "usd"))
    assert [s.title.title for s in store.search_titles(TitleQuery(text="hobit")).items] == ["The Hobbit"]
    with store.pool.connection() as c:
        c.run("UPDATE titles SET title = 'Farmer Giles of Ham' WHERE title_id = CAST(:t AS uuid)", t=book.title_id)
    assert [s.title.title for s in store.search_titles(TitleQuery(text="farmre gilse")).items] == ["Farmer Giles of Ham"]
