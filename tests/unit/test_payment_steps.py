"""The money steps (lending.payment_flow) when the processor refuses or fails at each call: what
the ledger says afterwards, and what reaches the caller. Killers of surviving mutants
(tests/mutation/)."""

from __future__ import annotations

import pytest

from lending import payment_flow
from lending.errors import InvalidRequest, LendingError, PaymentDeclined, PaymentProcessorUnavailable
from lending.model import NewBook, PaymentKind, PaymentState, User
from tests.support.fakes import FakeGateway, FakeStore

ALICE = User("https://issuer.test", "alice")


class FailingGateway(FakeGateway):
    """The fake processor, raising the given error at the named calls (after recording them)."""

    def __init__(self, **failures: LendingError) -> None:
        super().__init__()
        self.failures = failures

    def _fail(self, call: str) -> None:
        if call in self.failures:
            raise self.failures[call]

    def create_authorization(self, **kw):  # type: ignore[no-untyped-def]
        self._fail("create")
        return super().create_authorization(**kw)

    def confirm_authorization(self, intent_id: str, idempotency_key: str):  # type: ignore[no-untyped-def]
        self._fail("confirm")
        return super().confirm_authorization(intent_id, idempotency_key)

    def cancel(self, intent_id: str, idempotency_key: str):  # type: ignore[no-untyped-def]
        self._fail("cancel")
        return super().cancel(intent_id, idempotency_key)


def a_payment(store: FakeStore, request_id: str | None = None):
    book = store.add_book(NewBook("9780141439587", "Emma", "Jane Austen", 999, 99, "usd"))
    return payment_flow.new_payment(PaymentKind.BORROW_FEE, book, ALICE, idempotency_key="k", request_id=request_id)


@pytest.mark.parametrize("refusal", [PaymentDeclined("Your card was declined."), InvalidRequest("No such payment method.")])
def test_a_refusal_at_create_fails_the_ledger_row_with_the_processors_reason(refusal: LendingError) -> None:
    store, gateway = FakeStore(), FailingGateway(create=refusal)
    payment = a_payment(store)
    with pytest.raises(type(refusal)):
        payment_flow.authorize(store, gateway, payment, "pm_card_visa")
    row = store.get_payment(payment.payment_id)
    assert row.state is PaymentState.FAILED and row.failure_reason == refusal.detail and gateway.intents == {}


def test_an_outage_at_create_fails_the_row_since_no_intent_holds_money() -> None:
    store, gateway = FakeStore(), FailingGateway(create=PaymentProcessorUnavailable("down"))
    payment = a_payment(store)
    with pytest.raises(PaymentProcessorUnavailable):
        payment_flow.authorize(store, gateway, payment, "pm_card_visa")
    row = store.get_payment(payment.payment_id)
    assert row.state is PaymentState.FAILED and row.failure_reason == "processor unavailable" and row.intent_id is None


def test_a_release_the_processor_cannot_take_leaves_the_row_canceled_but_unsynced_for_reconcile() -> None:
    store, gateway = FakeStore(), FailingGateway(cancel=PaymentProcessorUnavailable("down"))
    won = payment_flow.authorize(store, gateway, a_payment(store), "pm_card_visa")
    assert payment_flow.release(store, gateway, won, "lost the race") is None  # the caller's answer is not a 503
    row = store.get_payment(won.payment_id)
    assert row.state is PaymentState.CANCELED and row.processor_synced is False and row.failure_reason == "lost the race"
    assert gateway.intents[won.intent_id]["status"] == "requires_capture"  # still held: reconcile re-drives it


def test_a_release_the_processor_takes_marks_the_row_synced() -> None:
    store, gateway = FakeStore(), FakeGateway()
    won = payment_flow.authorize(store, gateway, a_payment(store), "pm_card_visa")
    payment_flow.release(store, gateway, won, "lost the race")
    row = store.get_payment(won.payment_id)
    assert row.state is PaymentState.CANCELED and row.processor_synced is True
    assert gateway.intents[won.intent_id]["status"] == "canceled"


def test_the_request_id_goes_to_the_processor_only_when_there_is_one() -> None:
    store, gateway = FakeStore(), FakeGateway()
    with_id = payment_flow.authorize(store, gateway, a_payment(store, request_id="req-7"), "pm_card_visa")
    without = payment_flow.authorize(store, gateway, a_payment(store), "pm_card_visa")
    assert gateway.intents[with_id.intent_id]["metadata"] == {
        "payment_id": with_id.payment_id, "book_id": with_id.book_id, "kind": "borrow_fee", "request_id": "req-7"}
    assert "request_id" not in gateway.intents[without.intent_id]["metadata"]


def test_an_outage_at_confirm_releases_the_intent_and_reports_the_outage() -> None:
    store, gateway = FakeStore(), FailingGateway(confirm=PaymentProcessorUnavailable("down"))
    payment = a_payment(store)
    with pytest.raises(PaymentProcessorUnavailable):
        payment_flow.authorize(store, gateway, payment, "pm_card_visa")
    row = store.get_payment(payment.payment_id)
    assert row.state is PaymentState.CANCELED and row.processor_synced is True
    assert gateway.intents[row.intent_id]["status"] == "canceled"
