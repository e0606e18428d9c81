"""Settle every payment left between steps, so the money rule holds after any crash.

The rule: no money moves without the matching loan or sale, no loan or sale stands
without its payment, and no card is left with a hold on it.

Safe at any time: each payment is settled under a row lock that concurrent
reconcilers skip, and a request still in flight cannot attach a loan or sale to a
payment that reconcile has released (the store's attach is conditional).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field

from lending.errors import PaymentProcessorUnavailable
from lending.model import Authorization, PaymentState
from lending.payment_flow import processor_key
from lending.ports import LendingStore, PaymentGateway, PaymentSettlement

log = logging.getLogger("lending.reconcile")

HELD = ("requires_capture",)
NOT_HELD = ("requires_confirmation", "requires_payment_method", "requires_action", "canceled")


@dataclass
class Report:
    examined: int = 0
    actions: dict[str, int] = field(default_factory=dict)
    errors: int = 0

    def count(self, action: str) -> None:
        self.actions[action] = self.actions.get(action, 0) + 1


def reconcile(store: LendingStore, gateway: PaymentGateway, *, grace_seconds: float = 60.0) -> Report:
    report = Report()
    for payment_id in store.payments_to_settle(grace_seconds):
        with store.settling(payment_id) as settlement:
            if settlement is None:
                continue  # another reconciler holds it, or settled it since we listed it
            report.examined += 1
            try:
                action = _settle(settlement, gateway)
            except PaymentProcessorUnavailable:
                report.errors += 1
                log.warning("processor unavailable while settling payment %s", payment_id)
                continue
            if action:
                report.count(action)
                log.info("settled payment %s: %s", payment_id, action)
    return report


def settle_one(store: LendingStore, gateway: PaymentGateway, payment_id: str) -> str | None:
    """Settle one payment now (used by the webhook after the processor tells us something changed)."""
    with store.settling(payment_id, only_unsettled=False) as settlement:
        return _settle(settlement, gateway) if settlement is not None else None


def _settle(s: PaymentSettlement, gateway: PaymentGateway) -> str | None:
    p = s.payment
    if p.intent_id is None:
        # Never confirmed, so nothing can be held on the card.
        s.mark(PaymentState.FAILED, reason="abandoned before authorisation")
        return "abandoned"
    intent = gateway.retrieve(p.intent_id)
    owned = s.loan_open or s.sale_standing

    if p.state in (PaymentState.PENDING, PaymentState.AUTHORIZED):
        if owned:
            return _capture_or_reverse(s, gateway, intent)
        return _release(s, gateway, intent, "no loan or sale for this authorisation")
    if p.state is PaymentState.CANCELED:
        return _release(s, gateway, intent, p.failure_reason or "released")
    if p.state is PaymentState.CAPTURED and intent.refunded:
        s.mark(PaymentState.REFUNDED, reason="refunded outside this service")
        return "recorded refund"
    if p.state is PaymentState.CAPTURED and not owned:
        return _refund(s, gateway, intent)
    if p.state is PaymentState.REFUNDED and not p.processor_synced:
        return _refund(s, gateway, intent)
    return None


def _capture_or_reverse(s: PaymentSettlement, gateway: PaymentGateway, intent: Authorization) -> str:
    p = s.payment
    assert p.intent_id is not None
    if intent.status == "succeeded":
        s.mark(PaymentState.CAPTURED)
        return "recorded capture"
    if intent.status in HELD:
        gateway.capture(p.intent_id, processor_key(p, "capture"))
        s.mark(PaymentState.CAPTURED)
        return "captured"
    # The hold is gone (expired, cancelled outside our flow): the loan or sale cannot stand.
    reason = f"payment could not be captured (intent {intent.status})"
    if s.loan_open:
        s.reverse_loan(reason)
    if s.sale_standing:
        s.reverse_sale(reason)
    s.mark(PaymentState.CANCELED, reason=reason)
    return "reversed"


def _release(s: PaymentSettlement, gateway: PaymentGateway, intent: Authorization, reason: str) -> str:
    p = s.payment
    assert p.intent_id is not None
    if intent.status == "succeeded":
        # Money moved with nothing to show for it: give it back.
        return _refund(s, gateway, intent)
    s.mark(PaymentState.CANCELED, reason=reason, synced=False)
    if intent.status != "canceled":
        gateway.cancel(p.intent_id, processor_key(p, "cancel"))
    s.mark(PaymentState.CANCELED, reason=reason, synced=True)
    return "released"


def _refund(s: PaymentSettlement, gateway: PaymentGateway, intent: Authorization) -> str:
    p = s.payment
    assert p.intent_id is not None
    s.mark(PaymentState.REFUNDED, reason="captured without a loan or sale", synced=False)
    if not intent.refunded:
        gateway.refund(p.intent_id, processor_key(p, "refund"))
    s.mark(PaymentState.REFUNDED, reason="captured without a loan or sale", synced=True)
    return "refunded"
