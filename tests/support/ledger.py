"""A fake store and processor holding payments in each state reconcile meets, for its unit tests.

The rows are made with the store's own steps (record_payment, open_loan, record_sale, renew_loan,
record_fee_payment), the intents with the fake processor's, so each case is one a crash can leave.
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

from lending import reconcile
from lending.errors import LendingError
from lending.fees_model import ChargeKind
from lending.model import NewBook, Payment, PaymentKind, PaymentState, User
from lending.reconcile import Report
from tests.support.fakes import FakeGateway, FakeStore

ALICE = User("https://issuer.test", "alice")
FEE = 99
OWNERS = ("loan", "sale", "renewal", "fee")


class FlakyGateway(FakeGateway):
    """The fake processor, failing a step for the intents a test names: `fail[(step, intent_id)] = error`."""

    def __init__(self) -> None:
        super().__init__()
        self.fail: dict[tuple[str, str], LendingError] = {}

    def _step(self, step: str, intent_id: str) -> None:
        if (step, intent_id) in self.fail:
            raise self.fail[step, intent_id]

    def retrieve(self, intent_id: str):  # type: ignore[no-untyped-def]
        self._step("retrieve", intent_id)
        return super().retrieve(intent_id)

    def cancel(self, intent_id: str, idempotency_key: str):  # type: ignore[no-untyped-def]
        self._step("cancel", intent_id)
        return super().cancel(intent_id, idempotency_key)

    def refund(self, intent_id: str, idempotency_key: str):  # type: ignore[no-untyped-def]
        self._step("refund", intent_id)
        return super().refund(intent_id, idempotency_key)


class Ledger:
    def __init__(self) -> None:
        self.store, self.gateway = FakeStore(), FlakyGateway()

    def _book(self) -> str:
        return self.store.add_book(NewBook("9780141439587", "Emma", "Jane Austen", 999, FEE, "usd")).book_id

    def payment(self, state: PaymentState, *, intent: str | None = "requires_capture", refunded: bool = False,
                kind: PaymentKind = PaymentKind.BORROW_FEE, reason: str | None = None, synced: bool = True) -> Payment:
        """A ledger row in `state`, its intent (None: never created) in `intent` at the processor."""
        intent_id = None
        if intent is not None:
            intent_id = self.gateway.create_authorization(amount_cents=FEE, currency="usd", payment_method="pm_card_visa",
                                                          idempotency_key=str(uuid.uuid4()), metadata={})
            self.gateway.intents[intent_id].update(status=intent, refunded=refunded)
        book_id = None if kind is PaymentKind.FEE_PAYMENT else self._book()
        p = Payment(str(uuid.uuid4()), kind, book_id, ALICE, FEE, "usd", state, intent_id, failure_reason=reason,
                    processor_synced=synced)
        self.store.record_payment(p)
        return p

    def owned(self, owner: str, state: PaymentState = PaymentState.AUTHORIZED, *,
              intent: str = "requires_capture", refunded: bool = False) -> Payment:
        """An authorised payment with its loan, sale, renewal or fee credit standing, then moved to `state`."""
        due = datetime.now(UTC) + timedelta(days=21)
        if owner == "fee":
            self.store._add(ALICE.issuer, ALICE.subject, ChargeKind.LATE_FEE, FEE, "usd")
            p = self.payment(PaymentState.AUTHORIZED, intent=intent, refunded=refunded, kind=PaymentKind.FEE_PAYMENT)
            self.store.record_fee_payment(p.payment_id, ALICE)
        elif owner == "renewal":
            lent = self.payment(PaymentState.AUTHORIZED, intent="succeeded")
            loan = self.store.open_loan(lent.book_id or "", ALICE, lent.payment_id, due)
            self.store.update_payment(lent.payment_id, PaymentState.CAPTURED)  # the loan itself is paid for
            p = self.payment(PaymentState.AUTHORIZED, intent=intent, refunded=refunded, kind=PaymentKind.RENEWAL)
            self.store.renew_loan(loan.loan_id, ALICE, p.payment_id, now=datetime.now(UTC),
                                  loan_period=timedelta(days=21), max_renewals=2)
        else:
            p = self.payment(PaymentState.AUTHORIZED, intent=intent, refunded=refunded,
                             kind=PaymentKind.PURCHASE if owner == "sale" else PaymentKind.BORROW_FEE)
            if owner == "sale":
                self.store.record_sale(p.book_id or "", ALICE, p.payment_id)
            else:
                self.store.open_loan(p.book_id or "", ALICE, p.payment_id, due)
        if state is not PaymentState.AUTHORIZED:
            self.store.update_payment(p.payment_id, state)
        return self.now(p)

    def now(self, p: Payment) -> Payment:
        found = self.store.get_payment(p.payment_id)
        assert found is not None
        return found

    def intent(self, p: Payment) -> dict:
        return self.gateway.intents[p.intent_id or ""]

    def run(self, **options: float) -> Report:
        """One reconcile run with no grace (unless given), the processor's calls counted from here."""
        self.gateway.calls.clear()
        return reconcile.reconcile(self.store, self.gateway, **{"grace_seconds": 0.0, **options})

    def settle_one(self, p: Payment, event_id: str | None = None) -> str | None:
        self.gateway.calls.clear()
        return reconcile.settle_one(self.store, self.gateway, p.payment_id, event_id=event_id)
