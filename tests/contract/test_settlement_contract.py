"""Reconcile's reversals through the store's settlement (PaymentSettlement), against PostgreSQL and
the fake: a reversed loan, sale or renewal is undone in the store and no longer stands, then or in a
later settlement. Killers of surviving mutants (tests/mutation/)."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import pytest

from lending import payment_flow
from lending.model import BookStatus, NewBook, PaymentKind, User
from lending.ports import LendingStore
from tests.contract.test_fees_contract import DAY, FEES, fee_payment, lent
from tests.support.fakes import FakeGateway, FakeStore

ALICE = User("https://issuer.test", "alice")
NOW = datetime.now(UTC).replace(microsecond=0)
PERIOD = timedelta(days=21)


@pytest.fixture(params=["postgres", "fake"])
def any_store(request: pytest.FixtureRequest) -> Iterator[LendingStore]:
    yield request.getfixturevalue("store") if request.param == "postgres" else FakeStore()


def authorised(store: LendingStore, book, kind: PaymentKind = PaymentKind.BORROW_FEE):
    payment = payment_flow.new_payment(kind, book, ALICE, idempotency_key=None, request_id=None)
    return payment_flow.authorize(store, FakeGateway(), payment, "pm_card_visa")


def a_book(store: LendingStore, isbn: str = "9780141439587"):
    return store.add_book(NewBook(isbn, "Emma", "Jane Austen", 999, 99, "usd"))


def test_a_reversed_loan_is_closed_its_copy_free_and_it_no_longer_stands(any_store: LendingStore) -> None:
    other, book = a_book(any_store, "9780141439518"), a_book(any_store)
    any_store.open_loan(other.book_id, ALICE, authorised(any_store, other).payment_id, NOW + PERIOD)
    payment = authorised(any_store, book)
    loan = any_store.open_loan(book.book_id, ALICE, payment.payment_id, NOW + PERIOD)
    with any_store.settling(payment.payment_id, only_unsettled=False) as s:
        assert s is not None and s.loan_open and not s.sale_standing and not s.renewal_standing
        s.reverse_loan("capture failed")
        assert s.loan_open is False
    assert any_store.get_book(book.book_id).status is BookStatus.AVAILABLE
    assert any_store.get_book(other.book_id).status is BookStatus.BORROWED  # only the reversed loan's copy
    (closed,) = [x for x in any_store.loans_of(ALICE) if x.loan_id == loan.loan_id]
    assert closed.closed_reason == "reversed" and closed.returned_at is not None
    with any_store.settling(payment.payment_id, only_unsettled=False) as again:
        assert again is not None and again.loan_open is False


def test_a_reversed_sale_frees_its_copy_and_no_longer_stands(any_store: LendingStore) -> None:
    other, book = a_book(any_store, "9780141439518"), a_book(any_store)
    any_store.record_sale(other.book_id, ALICE, authorised(any_store, other, PaymentKind.PURCHASE).payment_id)
    payment = authorised(any_store, book, PaymentKind.PURCHASE)
    sale = any_store.record_sale(book.book_id, ALICE, payment.payment_id)
    with any_store.settling(payment.payment_id, only_unsettled=False) as s:
        assert s is not None and s.sale_standing and not s.loan_open and not s.renewal_standing
        s.reverse_sale("capture failed")
        assert s.sale_standing is False
    assert any_store.get_book(book.book_id).status is BookStatus.AVAILABLE
    assert any_store.get_book(other.book_id).status is BookStatus.SOLD
    (reversed_sale,) = [x for x in any_store.purchases_of(ALICE) if x.purchase_id == sale.purchase_id]
    assert reversed_sale.reversed_at is not None
    with any_store.settling(payment.payment_id, only_unsettled=False) as again:
        assert again is not None and again.sale_standing is False


def test_a_reversed_renewal_puts_the_due_date_back_and_no_longer_stands(any_store: LendingStore) -> None:
    book = a_book(any_store)
    loan = any_store.open_loan(book.book_id, ALICE, authorised(any_store, book).payment_id, NOW + PERIOD)
    payment = authorised(any_store, book, PaymentKind.RENEWAL)
    renewed = any_store.renew_loan(loan.loan_id, ALICE, payment.payment_id, now=NOW, loan_period=PERIOD, max_renewals=2)
    assert renewed.renewals == 1 and renewed.due_at == loan.due_at + PERIOD
    with any_store.settling(payment.payment_id, only_unsettled=False) as s:
        assert s is not None and s.renewal_standing
        s.reverse_renewal("capture failed")
        assert s.renewal_standing is False
    (back,) = [x for x in any_store.loans_of(ALICE) if x.loan_id == loan.loan_id]
    assert back.renewals == 0 and back.due_at == loan.due_at
    with any_store.settling(payment.payment_id, only_unsettled=False) as again:
        assert again is not None and again.renewal_standing is False


def test_a_loan_whose_renewal_was_reversed_can_be_renewed_again(any_store: LendingStore) -> None:
    book = a_book(any_store)
    loan = any_store.open_loan(book.book_id, ALICE, authorised(any_store, book).payment_id, NOW + PERIOD)
    payment = authorised(any_store, book, PaymentKind.RENEWAL)
    any_store.renew_loan(loan.loan_id, ALICE, payment.payment_id, now=NOW, loan_period=PERIOD, max_renewals=2)
    with any_store.settling(payment.payment_id, only_unsettled=False) as s:
        assert s is not None
        s.reverse_renewal("capture failed")
    again = authorised(any_store, book, PaymentKind.RENEWAL)
    renewed = any_store.renew_loan(loan.loan_id, ALICE, again.payment_id, now=NOW, loan_period=PERIOD, max_renewals=2)
    assert (renewed.renewals, renewed.due_at) == (1, loan.due_at + PERIOD)
    twice = any_store.renew_loan(loan.loan_id, ALICE, authorised(any_store, book, PaymentKind.RENEWAL).payment_id,
                                 now=NOW, loan_period=PERIOD, max_renewals=2)
    assert (twice.renewals, twice.due_at) == (2, loan.due_at + 2 * PERIOD)


def test_a_fee_payment_stands_in_its_settlement_once_it_is_credited_and_only_then(any_store: LendingStore) -> None:
    book, _ = lent(any_store, NOW - 3 * DAY)
    any_store.close_loan(book.book_id, ALICE, now=NOW, fees=FEES)
    credited, not_credited = fee_payment(any_store, 75), fee_payment(any_store, 75)
    any_store.record_fee_payment(credited, ALICE)
    with any_store.settling(credited, only_unsettled=False) as s:
        assert s is not None and s.fee_paid and not (s.loan_open or s.sale_standing or s.renewal_standing)
    with any_store.settling(not_credited, only_unsettled=False) as s:
        assert s is not None and not s.fee_paid
