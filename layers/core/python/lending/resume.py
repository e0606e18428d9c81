"""A retry whose first attempt's answer was lost gets that attempt's true outcome, not a false 409.

When a borrow or purchase fails in a way that leaves its outcome unknown (the database's reply to
the loan's COMMIT was lost, or the capture went through and our write of it did not), its
Idempotency-Key is released so that the client can retry. The retry then finds the first attempt's
payment by payer and key: if its loan or sale stands, that is the answer (finishing the capture if
it was left undone); if it is still between steps, the retry is told to come back once reconcile has
settled it; if it failed or was released, the retry runs afresh.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TypeVar

from lending import payment_flow
from lending.errors import RequestInProgress
from lending.model import Payment, PaymentKind, PaymentState, User
from lending.ports import LendingStore, PaymentGateway

T = TypeVar("T")
SETTLED_WITHOUT_MONEY = (PaymentState.FAILED, PaymentState.CANCELED, PaymentState.REFUNDED)


def earlier_outcome(store: LendingStore, gateway: PaymentGateway, payer: User, key: str | None, kind: PaymentKind,
                    book_id: str | None, standing: Callable[[Payment], T | None]) -> tuple[T, Payment] | None:
    """(what the first attempt with `key` made, its payment), or None when the request should run afresh.

    `standing(payment)` returns the loan or sale that payment is attached to, if it stands.
    """
    if key is None:
        return None
    payment = store.payment_for_key(payer, key, kind)
    if payment is None or payment.book_id != book_id or payment.state in SETTLED_WITHOUT_MONEY:
        return None
    made = standing(payment)
    if made is None:
        raise RequestInProgress("The first attempt with this Idempotency-Key is still being settled; "
                                "retry in a moment for its outcome.")
    if payment.state is PaymentState.AUTHORIZED:
        payment = payment_flow.capture(store, gateway, payment)
    return made, payment
