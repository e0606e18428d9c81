"""The money steps shared by borrowing, renewing and buying.

Order of events, each written to the ledger before or with the step it records:

1. ledger row `pending` (no processor call yet)
2. processor: create an *unconfirmed* intent (holds no money); ledger keeps its id
3. processor: confirm -> the card is authorised; ledger `authorized`
4. SQL: the conditional move of the book attaches the payment (see LendingStore)
5. processor: capture; ledger `captured`

A crash between any two steps leaves a ledger row that `lending.reconcile` settles.
"""

from __future__ import annotations

import logging
import uuid
from dataclasses import replace

from lending.errors import InvalidRequest, PaymentDeclined, PaymentProcessorUnavailable
from lending.model import Book, Payment, PaymentKind, PaymentState, User
from lending.ports import LendingStore, PaymentGateway

# One line per money step, for operators following a request id (never a card or token).
log = logging.getLogger("lending.payment_flow")


def new_payment(kind: PaymentKind, book: Book, payer: User, *, idempotency_key: str | None,
                request_id: str | None) -> Payment:
    amount = book.price_cents if kind is PaymentKind.PURCHASE else book.borrow_fee_cents  # a renewal costs the fee again
    return Payment(
        payment_id=str(uuid.uuid4()), kind=kind, book_id=book.book_id, payer=payer,
        amount_cents=amount, currency=book.currency, state=PaymentState.PENDING,
        idempotency_key=idempotency_key, request_id=request_id,
    )


def processor_key(payment: Payment, step: str) -> str:
    """Idempotency key for one processor step of one payment attempt.

    Derived from the ledger row (itself created once per client Idempotency-Key), so
    a retried step never makes a second intent or a second capture.
    """
    return f"{payment.payment_id}:{step}"


def authorize(store: LendingStore, gateway: PaymentGateway, payment: Payment,
              payment_method: str) -> Payment:
    store.record_payment(payment)
    metadata = {"payment_id": payment.payment_id, "book_id": payment.book_id or "", "kind": payment.kind.value}
    if payment.request_id:
        metadata["request_id"] = payment.request_id
    try:
        intent_id = gateway.create_authorization(
            amount_cents=payment.amount_cents, currency=payment.currency,
            payment_method=payment_method, idempotency_key=processor_key(payment, "create"),
            metadata=metadata,
        )
    except (PaymentDeclined, InvalidRequest) as exc:
        store.update_payment(payment.payment_id, PaymentState.FAILED, reason=exc.detail)
        log.info("payment refused", extra={"payment_id": payment.payment_id, "reason": exc.detail})
        raise
    except PaymentProcessorUnavailable:
        # No intent id means nothing was confirmed, so no money can be held.
        store.update_payment(payment.payment_id, PaymentState.FAILED, reason="processor unavailable")
        raise
    store.update_payment(payment.payment_id, PaymentState.PENDING, intent_id=intent_id)
    try:
        gateway.confirm_authorization(intent_id, processor_key(payment, "confirm"))
    except PaymentDeclined as exc:
        store.update_payment(payment.payment_id, PaymentState.FAILED, reason=exc.detail)
        log.info("payment declined", extra={"payment_id": payment.payment_id, "intent_id": intent_id})
        raise
    except PaymentProcessorUnavailable:
        # The confirm may or may not have reached the processor: try to release;
        # if that fails too, the pending row with its intent id is reconcile's to settle.
        _try_release(store, gateway, payment, intent_id, "processor unavailable during confirm")
        raise
    store.update_payment(payment.payment_id, PaymentState.AUTHORIZED)
    # The happy path's steps at DEBUG: at INFO a request writes one line (its outcome); the unusual
    # steps (refused, declined, deferred, released) stay at INFO and above.
    log.debug("payment authorised", extra={"payment_id": payment.payment_id, "intent_id": intent_id,
                                          "amount_cents": payment.amount_cents, "kind": payment.kind.value})
    return replace(payment, state=PaymentState.AUTHORIZED, intent_id=intent_id)


def capture(store: LendingStore, gateway: PaymentGateway, payment: Payment) -> Payment:
    """Capture a won payment. If the processor is down, the row stays `authorized`
    with its loan or sale attached, and reconcile captures it later."""
    assert payment.intent_id is not None
    try:
        gateway.capture(payment.intent_id, processor_key(payment, "capture"))
    except PaymentProcessorUnavailable:
        log.warning("capture deferred to reconcile: processor unavailable", extra={"payment_id": payment.payment_id})
        return payment
    store.update_payment(payment.payment_id, PaymentState.CAPTURED)
    log.debug("payment captured", extra={"payment_id": payment.payment_id, "intent_id": payment.intent_id})
    return replace(payment, state=PaymentState.CAPTURED)


def release(store: LendingStore, gateway: PaymentGateway, payment: Payment, reason: str) -> None:
    """Cancel the hold of a payment that lost its race (write-ahead: ledger first)."""
    assert payment.intent_id is not None
    _try_release(store, gateway, payment, payment.intent_id, reason)


def _try_release(store: LendingStore, gateway: PaymentGateway, payment: Payment,
                 intent_id: str, reason: str) -> None:
    store.update_payment(payment.payment_id, PaymentState.CANCELED, reason=reason, synced=False)
    log.info("payment released", extra={"payment_id": payment.payment_id, "intent_id": intent_id, "reason": reason})
    try:
        gateway.cancel(intent_id, processor_key(payment, "cancel"))
    except PaymentProcessorUnavailable:
        return  # reconcile re-drives unsynced rows
    store.update_payment(payment.payment_id, PaymentState.CANCELED, reason=reason, synced=True)
