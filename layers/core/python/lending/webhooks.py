"""Processor events keep the ledger true for changes made outside our flow.

The event only tells us *which* payment to look at: its current state is read back
from the processor, so a forged-but-signed or stale payload cannot push the ledger
anywhere the processor does not confirm, and a replayed event changes nothing twice.

An event is recorded as seen in the same transaction as its effect on the ledger, never
before: if applying it fails, the processor's retry applies it (it is not a "duplicate").
"""

from __future__ import annotations

from typing import Any

from lending import reconcile
from lending.model import PaymentState
from lending.ports import LendingStore, PaymentGateway

_RELEVANT = {
    "payment_intent.canceled", "payment_intent.succeeded", "payment_intent.payment_failed",
    "charge.refunded", "charge.refund.updated", "refund.created", "refund.updated", "charge.expired",
}


def intent_of(event: dict[str, Any]) -> str | None:
    obj = (event.get("data") or {}).get("object") or {}
    if obj.get("object") == "payment_intent":
        return obj.get("id")
    intent = obj.get("payment_intent")
    return intent if isinstance(intent, str) else None


def apply_event(store: LendingStore, gateway: PaymentGateway, event: dict[str, Any]) -> str:
    event_id = str(event.get("id") or "")
    if not event_id:
        return "ignored: no id"
    if event.get("type") not in _RELEVANT:
        return "ignored: type"
    intent_id = intent_of(event)
    payment = store.payment_by_intent(intent_id) if intent_id else None
    if payment is None:
        store.remember_event(event_id)  # nothing to apply: seen is all there is to record
        return "ignored: unknown payment"
    if payment.state in (PaymentState.PENDING, PaymentState.AUTHORIZED):
        # Only act on an authorisation the processor says is gone or captured; an
        # authorisation still held may belong to a request in flight.
        current = gateway.retrieve(payment.intent_id or "")
        if current.status not in ("canceled", "succeeded", "requires_payment_method"):
            return "no change" if store.remember_event(event_id) else "duplicate"
    return reconcile.settle_one(store, gateway, payment.payment_id, event_id=event_id) or "no change"
