"""The use cases with in-memory fakes: fast checks of the money steps' order and outcomes."""

from __future__ import annotations

from dataclasses import replace

import pytest

from lending import reconcile, services
from lending.errors import BookUnavailable, PaymentDeclined, PaymentProcessorUnavailable
from lending.model import BookStatus, NewBook, PaymentState, User
from tests.support.fakes import FakeGateway, FakeStore

ALICE = User("https://issuer.test", "alice")
BOB = User("https://issuer.test", "bob")


@pytest.fixture
def store() -> FakeStore:
    return FakeStore()


@pytest.fixture
def gateway() -> FakeGateway:
    return FakeGateway()


def a_book(store: FakeStore):
    return store.add_book(NewBook("9780141439587", "Emma", "Jane Austen", 999, 99, "usd"))


def only_payment(store: FakeStore):
    (payment,) = store.payments.values()
    return payment


def test_borrowing_authorises_moves_then_captures(store: FakeStore, gateway: FakeGateway) -> None:
    book = a_book(store)
    done = services.borrow_book(store, gateway, ALICE, book.book_id, "pm_card_visa", loan_days=14)
    assert gateway.calls == ["create", "confirm", "capture"]
    assert done.payment.state is PaymentState.CAPTURED and done.payment.amount_cents == 99
    assert store.get_book(book.book_id).status is BookStatus.BORROWED
    assert (done.loan.due_at - done.loan.borrowed_at).days in (13, 14)


def test_a_taken_book_is_refused_before_any_card_is_touched(store: FakeStore, gateway: FakeGateway) -> None:
    book = a_book(store)
    services.borrow_book(store, gateway, ALICE, book.book_id, "pm_card_visa", loan_days=14)
    gateway.calls.clear()
    with pytest.raises(BookUnavailable):
        services.buy_book(store, gateway, BOB, book.book_id, "pm_card_visa")
    assert gateway.calls == []


def test_a_declined_card_leaves_only_a_failed_ledger_row(store: FakeStore, gateway: FakeGateway) -> None:
    book = a_book(store)
    with pytest.raises(PaymentDeclined):
        services.borrow_book(store, gateway, ALICE, book.book_id, "pm_card_chargeCustomerFail", loan_days=14)
    assert only_payment(store).state is PaymentState.FAILED
    assert store.get_book(book.book_id).status is BookStatus.AVAILABLE and store.loans == {}


class RacingGateway(FakeGateway):
    """Someone else takes the book while our card is being authorised."""

    def __init__(self, store: FakeStore, book_id: str) -> None:
        super().__init__()
        self.store, self.book_id = store, book_id

    def confirm_authorization(self, intent_id: str, idempotency_key: str):
        result = super().confirm_authorization(intent_id, idempotency_key)
        self.store.books[self.book_id] = replace(self.store.books[self.book_id], status=BookStatus.SOLD)
        return result


def test_the_loser_of_a_race_gets_its_hold_released(store: FakeStore) -> None:
    book = a_book(store)
    gateway = RacingGateway(store, book.book_id)
    with pytest.raises(BookUnavailable):
        services.borrow_book(store, gateway, ALICE, book.book_id, "pm_card_visa", loan_days=14)
    payment = only_payment(store)
    assert payment.state is PaymentState.CANCELED and payment.processor_synced
    assert gateway.retrieve(payment.intent_id).status == "canceled"
    assert "capture" not in gateway.calls


class ConfirmTimesOut(FakeGateway):
    def confirm_authorization(self, intent_id: str, idempotency_key: str):
        super().confirm_authorization(intent_id, idempotency_key)  # it went through, the answer was lost
        raise PaymentProcessorUnavailable("timed out")


def test_a_lost_confirm_answer_releases_the_hold_it_may_have_made(store: FakeStore) -> None:
    book = a_book(store)
    gateway = ConfirmTimesOut()
    with pytest.raises(PaymentProcessorUnavailable):
        services.borrow_book(store, gateway, ALICE, book.book_id, "pm_card_visa", loan_days=14)
    payment = only_payment(store)
    assert payment.state is PaymentState.CANCELED
    assert gateway.retrieve(payment.intent_id).status == "canceled"
    assert store.get_book(book.book_id).status is BookStatus.AVAILABLE


class CaptureDown(FakeGateway):
    down = True

    def capture(self, intent_id: str, idempotency_key: str):
        if self.down:
            raise PaymentProcessorUnavailable("down")
        return super().capture(intent_id, idempotency_key)


def test_a_won_loan_whose_capture_failed_is_captured_by_reconcile(store: FakeStore) -> None:
    book = a_book(store)
    gateway = CaptureDown()
    done = services.borrow_book(store, gateway, ALICE, book.book_id, "pm_card_visa", loan_days=14)
    assert done.payment.state is PaymentState.AUTHORIZED  # the loan stands; capture is owed
    gateway.down = False
    assert reconcile.reconcile(store, gateway, grace_seconds=0).actions == {"captured": 1}
    assert only_payment(store).state is PaymentState.CAPTURED
    assert reconcile.reconcile(store, gateway, grace_seconds=0).examined == 0


def test_reconcile_reports_but_survives_a_processor_outage(store: FakeStore) -> None:
    book = a_book(store)
    gateway = CaptureDown()
    services.borrow_book(store, gateway, ALICE, book.book_id, "pm_card_visa", loan_days=14)
    report = reconcile.reconcile(store, gateway, grace_seconds=0)
    assert report.errors == 1 and report.actions == {}
    assert only_payment(store).state is PaymentState.AUTHORIZED
