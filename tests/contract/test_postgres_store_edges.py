"""PostgresStore at edges the contract leaves open, or the fake does not reach (the desk's withdrawals)."""

from __future__ import annotations

import uuid

import pytest

from lending.errors import NotOnLoan
from lending_postgres import PostgresStore
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
