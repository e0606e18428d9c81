"""A retry with the Idempotency-Key of an attempt whose answer was lost (lending.resume): which
earlier payments it takes as its outcome, and when it runs afresh. Killers of surviving mutants
(tests/mutation/)."""

from __future__ import annotations

import pytest

from lending import resume
from lending.errors import RequestInProgress
from lending.model import Payment, PaymentKind, PaymentState, User
from tests.support.fakes import FakeGateway, FakeStore

ALICE = User("https://issuer.test", "alice")


def first_attempt(store: FakeStore, gateway: FakeGateway, state: PaymentState, book_id: str = "book-5") -> Payment:
    intent = gateway.create_authorization(amount_cents=99, currency="usd", payment_method="pm_card_visa",
                                          idempotency_key="k", metadata={})
    gateway.confirm_authorization(intent, "k-confirm")
    payment = Payment("pay-1", PaymentKind.BORROW_FEE, book_id, ALICE, 99, "usd", state, intent_id=intent,
                      idempotency_key="key-1")
    store.record_payment(payment)
    gateway.calls.clear()
    return payment


def outcome(store: FakeStore, gateway: FakeGateway, book_id: str = "book-5", made: str | None = "loan-1"):
    return resume.earlier_outcome(store, gateway, ALICE, "key-1", PaymentKind.BORROW_FEE, book_id, lambda p: made)


@pytest.mark.parametrize("other_book", ["book-0", "book-9"])  # sorting before and after the first attempt's
def test_the_same_key_for_another_book_runs_afresh(other_book: str) -> None:
    store, gateway = FakeStore(), FakeGateway()
    first_attempt(store, gateway, PaymentState.CAPTURED)
    assert outcome(store, gateway, book_id=other_book) is None
    assert outcome(store, gateway) == ("loan-1", store.get_payment("pay-1"))  # the same book: its outcome


@pytest.mark.parametrize("state", [PaymentState.FAILED, PaymentState.CANCELED, PaymentState.REFUNDED])
def test_a_first_attempt_settled_without_money_runs_afresh_even_for_the_same_book(state: PaymentState) -> None:
    store, gateway = FakeStore(), FakeGateway()
    first_attempt(store, gateway, state)
    assert outcome(store, gateway) is None
    assert gateway.calls == []


def test_a_captured_first_attempt_is_the_answer_and_is_not_captured_again() -> None:
    store, gateway = FakeStore(), FakeGateway()
    payment = first_attempt(store, gateway, PaymentState.CAPTURED)
    assert outcome(store, gateway) == ("loan-1", payment)
    assert gateway.calls == []


def test_an_authorized_first_attempt_whose_loan_stands_is_captured_once() -> None:
    store, gateway = FakeStore(), FakeGateway()
    first_attempt(store, gateway, PaymentState.AUTHORIZED)
    made, payment = outcome(store, gateway)
    assert made == "loan-1" and payment.state is PaymentState.CAPTURED
    assert gateway.calls == ["capture"] and store.get_payment("pay-1").state is PaymentState.CAPTURED


def test_a_first_attempt_still_between_steps_asks_the_retry_to_come_back() -> None:
    store, gateway = FakeStore(), FakeGateway()
    first_attempt(store, gateway, PaymentState.AUTHORIZED)
    with pytest.raises(RequestInProgress):
        outcome(store, gateway, made=None)
    assert gateway.calls == []
