"""Settle every payment left between steps, so the money rule holds after any crash.

The rule: no money moves without the matching loan, renewal or sale, no loan or sale stands
without its payment, and no card is left with a hold on it.

Safe at any time: each payment is settled under a row lock that concurrent
reconcilers skip, and a request still in flight cannot attach a loan or sale to a
payment that reconcile has released (the store's attach is conditional).

One payment that cannot be settled (the processor refuses, e.g. it no longer knows the
intent; or the database refuses the step) never stops the run: the failure is recorded
on that payment, which is offered again only after a backoff that doubles with each
failed attempt, and it is counted in `Report.failed`. A processor that is unreachable is
not the payment's fault: that is `Report.errors`, and the payment is tried next run.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field

from lending.errors import DatabaseUnavailable, PaymentProcessorUnavailable, RequestInProgress
from lending.model import Authorization, PaymentState
from lending.payment_flow import processor_key
from lending.ports import LendingStore, PaymentGateway, PaymentSettlement

log = logging.getLogger("lending.reconcile")

HELD = ("requires_capture",)
NOT_HELD = ("requires_confirmation", "requires_payment_method", "requires_action", "canceled")
FIRST_RETRY_SECONDS = 300.0  # then 10 min, 20 min, ... at most MAX_RETRY_SECONDS
MAX_RETRY_SECONDS = 6 * 3600.0


@dataclass
class Report:
    examined: int = 0
    actions: dict[str, int] = field(default_factory=dict)
    errors: int = 0  # processor unreachable: tried again next run
    failed: int = 0  # could not be settled: recorded on the payment, retried after a backoff

    def count(self, action: str) -> None:
        self.actions[action] = self.actions.get(action, 0) + 1


def reconcile(store: LendingStore, gateway: PaymentGateway, *, grace_seconds: float = 60.0,
              first_retry_seconds: float = FIRST_RETRY_SECONDS, max_retry_seconds: float = MAX_RETRY_SECONDS) -> Report:
    report = Report()
    for payment_id in store.payments_to_settle(grace_seconds):
        try:
            action = _settle_listed(store, gateway, payment_id, report)
        except DatabaseUnavailable:
            raise  # the database is gone for every payment: stop the run, not just this row
        except PaymentProcessorUnavailable:
            report.errors += 1
            log.warning("processor unavailable while settling payment %s", payment_id)
            continue
        except Exception as exc:  # noqa: BLE001 - one payment must never stop the others
            report.failed += 1
            attempts = store.defer_settling(payment_id, f"{type(exc).__name__}: {exc}",
                                            first_delay_seconds=first_retry_seconds,
                                            max_delay_seconds=max_retry_seconds)
            log.warning("could not settle payment %s (attempt %d): %s", payment_id, attempts, exc, exc_info=exc)
            continue
        if action:
            report.count(action)
            log.info("settled payment %s: %s", payment_id, action)
    return report


def _settle_listed(store: LendingStore, gateway: PaymentGateway, payment_id: str, report: Report) -> str | None:
    with store.settling(payment_id) as settlement:
        if settlement is None:
            return None  # another reconciler holds it, or settled it since we listed it
        report.examined += 1
        return _settle(settlement, gateway)


def settle_one(store: LendingStore, gateway: PaymentGateway, payment_id: str, *,
               event_id: str | None = None) -> str | None:
    """Settle one payment now (used by the webhook after the processor tells us something changed).

    With `event_id`, the event is recorded as seen in the same transaction as the step that
    completes the settlement; "duplicate" if it was seen before. Raises RequestInProgress while
    another settler holds the payment, so that the sender retries the event later.
    """
    with store.settling(payment_id, only_unsettled=False) as settlement:
        if settlement is None:
            raise RequestInProgress("This payment is being settled right now; send the event again later.")
        if event_id is not None and not settlement.remember_event(event_id):
            return "duplicate"
        return _settle(settlement, gateway)


def _settle(s: PaymentSettlement, gateway: PaymentGateway) -> str | None:
    p = s.payment
    if p.intent_id is None:
        # Never confirmed, so nothing can be held on the card.
        s.mark(PaymentState.FAILED, reason="abandoned before authorisation")
        return "abandoned"
    intent = gateway.retrieve(p.intent_id)
    owned = s.loan_open or s.sale_standing or s.renewal_standing or s.fee_paid

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
    if p.state is PaymentState.FAILED:
        return _close_failed(s, gateway, intent)
    return None


def _close_failed(s: PaymentSettlement, gateway: PaymentGateway, intent: Authorization) -> str | None:
    """A failed payment must leave no intent that holds money or could be confirmed later.

    E.g. a confirm that ended in requires_action, whose cancel failed: the row says failed,
    but the intent is still open at the processor.
    """
    p = s.payment
    assert p.intent_id is not None
    if intent.status == "succeeded":
        return _refund(s, gateway, intent)
    action = None
    if intent.status != "canceled":
        gateway.cancel(p.intent_id, processor_key(p, "cancel"))
        action = "released"
    s.intent_closed()
    return action


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
    if s.renewal_standing:
        s.reverse_renewal(reason)
    # A fee payment's credit counts only while its payment holds the money: marked canceled, the debt is back.
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
    # A refund a librarian asked for (lending.desk) keeps its own reason.
    reason = p.failure_reason if p.state is PaymentState.REFUNDED and p.failure_reason else \
        "captured without a loan or sale"
    s.mark(PaymentState.REFUNDED, reason=reason, synced=False)
    if not intent.refunded:
        gateway.refund(p.intent_id, processor_key(p, "refund"))
    s.mark(PaymentState.REFUNDED, reason=reason, synced=True)
    return "refunded"
