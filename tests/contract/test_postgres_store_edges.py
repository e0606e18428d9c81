"""PostgresStore at edges the contract leaves open, or the fake does not reach (the desk's withdrawals)."""

from __future__ import annotations

import uuid

import pytest

from lending.errors import NotOnLoan
from lending.model import BookStatus, NewBook
from lending_postgres import ConnectionPool, PostgresStore
from lending_postgres.connection import DatabaseTimedOut
from tests.contract.test_circulation_contract import DUE, paid
from tests.contract.test_fees_contract import ALICE, BOB, DAY, FEES, NOW, kinds, lent


def test_postgres_deferring_a_payment_not_in_the_ledger_counts_no_attempt(store: PostgresStore) -> None:
    missing = str(uuid.uuid4())
    assert store.defer_settling(missing, "gone", first_delay_seconds=1, max_delay_seconds=2) == 0
    assert store.get_payment(missing) is None


def test_postgres_a_lost_copy_withdrawn_since_is_not_on_loan_to_anyone(store: PostgresStore) -> None:
    book, _ = lent(store, NOW - 61 * DAY)
    store.declare_lost(now=NOW, lost_after=60 * DAY, fees=FEES)
    store.withdraw_copy(book.book_id, "written off")
    for caller in (BOB, ALICE):
        with pytest.raises(NotOnLoan):
            store.close_loan(book.book_id, caller, now=NOW + DAY, fees=FEES)
    assert kinds(store) == [("late_fee", 1500), ("lost_item", 1500)]  # the lost charge stands


def test_postgres_a_loan_of_a_copy_waits_for_its_titles_lock(store: PostgresStore, database_url: str) -> None:
    """open_loan takes the title's lock before it moves the copy (sent in one round trip with the move):
    while another transaction holds the title, the loan waits, here until its lock timeout, and nothing moves."""
    book = store.add_book(NewBook("9780261102217", "The Hobbit", "J. R. R. Tolkien", 1500, 200, "usd"))
    payment_id = paid(store, book, ALICE)
    holder, impatient = ConnectionPool(database_url, size=1), ConnectionPool(database_url, size=1, lock_timeout_ms=200)
    try:
        with holder.transaction() as c:
            # as the title's other users lock it (FOR NO KEY UPDATE): foreign-key checks on it are not held up
            c.run("SELECT 1 FROM titles WHERE title_id = CAST(:t AS uuid) FOR NO KEY UPDATE", t=book.title_id)
            with pytest.raises(DatabaseTimedOut):
                PostgresStore(impatient).open_loan(book.book_id, ALICE, payment_id, DUE)
            assert store.get_book(book.book_id).status is BookStatus.AVAILABLE
        loan = PostgresStore(impatient).open_loan(book.book_id, ALICE, payment_id, DUE)  # the title is free again
        assert (loan.book_id, store.get_book(book.book_id).status) == (book.book_id, BookStatus.BORROWED)
    finally:
        holder.close()
        impatient.close()
