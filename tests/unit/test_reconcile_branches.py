"""lending.reconcile, one branch of its settling at a time, on the fakes: what the ledger row, the
intent at the processor and the run's report say afterwards. The run itself (failures, backoff,
grace, the webhook's settle_one): tests/unit/test_reconcile_runs.py."""

from __future__ import annotations

import pytest

from lending.model import BookStatus, PaymentState
from tests.support.ledger import ALICE, OWNERS, Ledger

NO_OWNER = "no loan or sale for this authorisation"
UNOWNED = "captured without a loan or sale"


@pytest.fixture
def ledger() -> Ledger:
    return Ledger()


def test_a_payment_never_confirmed_is_failed_as_abandoned_without_asking_the_processor(ledger: Ledger) -> None:
    p = ledger.payment(PaymentState.PENDING, intent=None)
    report = ledger.run()
    assert (report.examined, report.actions) == (1, {"abandoned": 1}) and ledger.gateway.calls == []
    assert ledger.now(p).state is PaymentState.FAILED
    assert ledger.now(p).failure_reason == "abandoned before authorisation"


@pytest.mark.parametrize("owner", OWNERS)
def test_a_held_authorisation_whose_owner_stands_is_captured(ledger: Ledger, owner: str) -> None:
    p = ledger.owned(owner)
    assert ledger.run().actions == {"captured": 1} and ledger.gateway.calls == ["capture"]
    assert ledger.now(p).state is PaymentState.CAPTURED and ledger.intent(p)["status"] == "succeeded"
    assert ledger.run().examined == 0


@pytest.mark.parametrize("owner", OWNERS)
def test_a_capture_the_processor_made_but_the_ledger_missed_is_recorded_not_repeated(ledger: Ledger, owner: str) -> None:
    p = ledger.owned(owner, intent="succeeded")
    assert ledger.run().actions == {"recorded capture": 1} and ledger.gateway.calls == []
    assert ledger.now(p).state is PaymentState.CAPTURED and ledger.now(p).processor_synced


def test_a_lost_hold_reverses_the_loan_and_puts_the_copy_back(ledger: Ledger) -> None:
    p = ledger.owned("loan", intent="canceled")
    assert ledger.run().actions == {"reversed": 1} and ledger.gateway.calls == []
    loan = ledger.store.loans[p.loan_id or ""]
    assert loan.closed_reason == "reversed" and loan.returned_at is not None
    assert ledger.store.get_book(p.book_id or "").status is BookStatus.AVAILABLE
    assert ledger.now(p).state is PaymentState.CANCELED
    assert ledger.now(p).failure_reason == "payment could not be captured (intent canceled)"


def test_a_lost_hold_reverses_the_sale_and_puts_the_copy_back(ledger: Ledger) -> None:
    p = ledger.owned("sale", intent="requires_payment_method")
    assert ledger.run().actions == {"reversed": 1}
    assert ledger.store.purchases[p.purchase_id or ""].reversed_at is not None
    assert ledger.store.get_book(p.book_id or "").status is BookStatus.AVAILABLE
    assert ledger.now(p).state is PaymentState.CANCELED
    assert ledger.now(p).failure_reason == "payment could not be captured (intent requires_payment_method)"


def test_a_lost_hold_reverses_the_renewal_and_the_due_date(ledger: Ledger) -> None:
    p = ledger.owned("renewal", intent="canceled")
    renewal = ledger.store.renewals[p.renewal_id or ""]
    assert ledger.run().actions == {"reversed": 1}
    loan = ledger.store.loans[renewal.loan_id]
    assert ledger.store.renewals[renewal.renewal_id].reversed
    assert (loan.due_at, loan.renewals, loan.returned_at) == (renewal.previous_due_at, 0, None)
    assert ledger.now(p).state is PaymentState.CANCELED


def test_a_lost_hold_on_a_fee_payment_puts_the_debt_back(ledger: Ledger) -> None:
    p = ledger.owned("fee", intent="canceled")
    assert ledger.store.account(ALICE, "usd").balance_cents == 0
    assert ledger.run().actions == {"reversed": 1}
    assert ledger.now(p).state is PaymentState.CANCELED
    assert ledger.store.account(ALICE, "usd").balance_cents == 99


@pytest.mark.parametrize("state", [PaymentState.PENDING, PaymentState.AUTHORIZED])
def test_a_held_authorisation_with_no_owner_is_cancelled(ledger: Ledger, state: PaymentState) -> None:
    p = ledger.payment(state)
    assert ledger.run().actions == {"released": 1} and ledger.gateway.calls == ["cancel"]
    assert ledger.intent(p)["status"] == "canceled"
    assert (ledger.now(p).state, ledger.now(p).failure_reason) == (PaymentState.CANCELED, NO_OWNER)
    assert ledger.now(p).processor_synced and ledger.run().examined == 0


def test_an_authorisation_already_cancelled_at_the_processor_is_only_recorded(ledger: Ledger) -> None:
    p = ledger.payment(PaymentState.AUTHORIZED, intent="canceled")
    assert ledger.run().actions == {"released": 1} and ledger.gateway.calls == []
    assert (ledger.now(p).state, ledger.now(p).processor_synced) == (PaymentState.CANCELED, True)


def test_money_captured_with_no_owner_is_refunded(ledger: Ledger) -> None:
    p = ledger.payment(PaymentState.AUTHORIZED, intent="succeeded")
    assert ledger.run().actions == {"refunded": 1} and ledger.gateway.calls == ["refund"]
    assert ledger.intent(p)["refunded"]
    assert (ledger.now(p).state, ledger.now(p).failure_reason) == (PaymentState.REFUNDED, UNOWNED)
    assert ledger.now(p).processor_synced and ledger.run().examined == 0


def test_a_release_left_unsent_keeps_its_reason_and_is_sent(ledger: Ledger) -> None:
    p = ledger.payment(PaymentState.CANCELED, reason="the copy was taken meanwhile", synced=False)
    assert ledger.run().actions == {"released": 1} and ledger.gateway.calls == ["cancel"]
    assert ledger.intent(p)["status"] == "canceled"
    assert ledger.now(p).failure_reason == "the copy was taken meanwhile" and ledger.now(p).processor_synced


def test_a_release_left_unsent_without_a_reason_is_released(ledger: Ledger) -> None:
    p = ledger.payment(PaymentState.CANCELED, synced=False)
    assert ledger.run().actions == {"released": 1}
    assert (ledger.now(p).state, ledger.now(p).failure_reason) == (PaymentState.CANCELED, "released")


def test_a_capture_with_no_owner_is_refunded_for_that_reason_whatever_it_said_before(ledger: Ledger) -> None:
    p = ledger.payment(PaymentState.CAPTURED, intent="succeeded", reason="an earlier step's note")
    assert ledger.run().actions == {"refunded": 1} and ledger.gateway.calls == ["refund"]
    assert ledger.intent(p)["refunded"]
    assert (ledger.now(p).state, ledger.now(p).failure_reason) == (PaymentState.REFUNDED, UNOWNED)


def test_a_capture_refunded_outside_the_service_is_recorded_without_a_second_refund(ledger: Ledger) -> None:
    p = ledger.payment(PaymentState.CAPTURED, intent="succeeded", refunded=True)
    assert ledger.run().actions == {"recorded refund": 1} and ledger.gateway.calls == []
    assert ledger.now(p).state is PaymentState.REFUNDED
    assert ledger.now(p).failure_reason == "refunded outside this service"


def test_a_standing_loan_refunded_outside_the_service_is_recorded_by_the_webhook(ledger: Ledger) -> None:
    p = ledger.owned("loan", PaymentState.CAPTURED, intent="succeeded", refunded=True)
    assert ledger.settle_one(p) == "recorded refund" and ledger.gateway.calls == []
    assert ledger.now(p).state is PaymentState.REFUNDED


def test_a_standing_capture_needs_nothing(ledger: Ledger) -> None:
    p = ledger.owned("loan", PaymentState.CAPTURED, intent="succeeded")
    assert ledger.settle_one(p) is None and ledger.gateway.calls == []
    assert ledger.now(p) == p


def test_a_librarians_refund_left_unsent_is_sent_with_her_reason(ledger: Ledger) -> None:
    p = ledger.payment(PaymentState.REFUNDED, intent="succeeded", reason="damaged copy", synced=False)
    assert ledger.run().actions == {"refunded": 1} and ledger.gateway.calls == ["refund"]
    assert ledger.intent(p)["refunded"]
    assert (ledger.now(p).failure_reason, ledger.now(p).processor_synced) == ("damaged copy", True)


def test_a_refund_left_unsent_without_a_reason_gets_the_unowned_one(ledger: Ledger) -> None:
    p = ledger.payment(PaymentState.REFUNDED, intent="succeeded", synced=False)
    assert ledger.run().actions == {"refunded": 1}
    assert ledger.now(p).failure_reason == UNOWNED


def test_a_refund_the_processor_already_made_is_only_marked_sent(ledger: Ledger) -> None:
    p = ledger.payment(PaymentState.REFUNDED, intent="succeeded", refunded=True, reason="damaged copy", synced=False)
    assert ledger.run().actions == {"refunded": 1} and ledger.gateway.calls == []
    assert (ledger.now(p).failure_reason, ledger.now(p).processor_synced) == ("damaged copy", True)


def test_a_refund_sent_needs_nothing(ledger: Ledger) -> None:
    p = ledger.payment(PaymentState.REFUNDED, intent="succeeded", refunded=True, reason="damaged copy")
    assert ledger.settle_one(p) is None and ledger.gateway.calls == []
    assert ledger.now(p) == p


def test_a_failed_payment_whose_money_moved_anyway_is_refunded(ledger: Ledger) -> None:
    p = ledger.payment(PaymentState.FAILED, intent="succeeded")
    assert ledger.run().actions == {"refunded": 1} and ledger.gateway.calls == ["refund"]
    assert ledger.intent(p)["refunded"] and ledger.now(p).state is PaymentState.REFUNDED


def test_a_failed_payment_with_an_open_intent_has_it_cancelled_once(ledger: Ledger) -> None:
    p = ledger.payment(PaymentState.FAILED, intent="requires_action")
    assert ledger.run().actions == {"released": 1} and ledger.gateway.calls == ["cancel"]
    assert ledger.intent(p)["status"] == "canceled" and ledger.now(p).state is PaymentState.FAILED
    assert p.payment_id in ledger.store.intent_checked and ledger.run().examined == 0


def test_a_failed_payment_whose_intent_is_closed_is_checked_off_with_no_action(ledger: Ledger) -> None:
    p = ledger.payment(PaymentState.FAILED, intent="canceled")
    report = ledger.run()
    assert (report.examined, report.actions, report.failed) == (1, {}, 0) and ledger.gateway.calls == []
    assert p.payment_id in ledger.store.intent_checked and ledger.run().examined == 0
