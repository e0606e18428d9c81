"""One payment row locked for settling by reconcile (lending.ports.PaymentSettlement)."""

from __future__ import annotations

import pg8000.native

from lending.model import Payment, PaymentKind, PaymentState
from lending_postgres.rows import update_payment_row


class Settlement:
    def __init__(self, conn: pg8000.native.Connection, payment: Payment) -> None:
        self._c = conn
        self.payment = payment
        self.loan_open = bool(payment.loan_id) and bool(conn.run(
            "SELECT 1 FROM loans WHERE loan_id = CAST(:id AS uuid) AND closed_reason IS DISTINCT FROM 'reversed'",
            id=payment.loan_id))
        self.sale_standing = bool(payment.purchase_id) and bool(conn.run(
            "SELECT 1 FROM purchases WHERE purchase_id = CAST(:id AS uuid) AND reversed_at IS NULL",
            id=payment.purchase_id))
        self.renewal_standing = bool(payment.renewal_id) and bool(conn.run(
            "SELECT 1 FROM renewals WHERE renewal_id = CAST(:id AS uuid) AND reversed_at IS NULL",
            id=payment.renewal_id))
        self.fee_paid = payment.kind is PaymentKind.FEE_PAYMENT and bool(conn.run(
            "SELECT 1 FROM charges WHERE payment_id = CAST(:id AS uuid)", id=payment.payment_id))
        self._event_id: str | None = None

    def mark(self, state: PaymentState, *, reason: str | None = None, synced: bool = True) -> None:
        update_payment_row(self._c, self.payment.payment_id, state, reason=reason, synced=synced)
        if synced:  # a completed step: the event that asked for it is seen in the same commit
            self.record_event()
        # Commit each step so the ledger is ahead of the processor even if we die next.
        self._c.run("COMMIT")
        self._c.run("BEGIN")
        self._c.run("SELECT 1 FROM payments WHERE payment_id = CAST(:id AS uuid) FOR UPDATE", id=self.payment.payment_id)

    def reverse_loan(self, reason: str) -> None:
        # The reason is kept on the payment row (mark); the loan records that it was reversed.
        rows = self._c.run("UPDATE loans SET returned_at = coalesce(returned_at, now()), closed_reason = 'reversed' "
                           "WHERE loan_id = CAST(:id AS uuid) RETURNING book_id::text", id=self.payment.loan_id)
        if rows:
            self._c.run("UPDATE books SET status = 'available' WHERE book_id = CAST(:b AS uuid) AND status = 'borrowed' "
                        "AND NOT EXISTS (SELECT 1 FROM loans WHERE book_id = CAST(:b AS uuid) AND returned_at IS NULL)",
                        b=rows[0][0])
        self.loan_open = False

    def reverse_sale(self, reason: str) -> None:
        rows = self._c.run("UPDATE purchases SET reversed_at = now(), reversed_reason = :r "
                           "WHERE purchase_id = CAST(:id AS uuid) AND reversed_at IS NULL RETURNING book_id::text",
                           id=self.payment.purchase_id, r=reason)
        if rows:
            self._c.run("UPDATE books SET status = 'available' WHERE book_id = CAST(:b AS uuid) AND status = 'sold'",
                        b=rows[0][0])
        self.sale_standing = False

    def reverse_renewal(self, reason: str) -> None:
        # The due date goes back only if no later renewal has moved it on since.
        rows = self._c.run("UPDATE renewals SET reversed_at = now() WHERE renewal_id = CAST(:id AS uuid) "
                           "AND reversed_at IS NULL RETURNING loan_id::text, previous_due_at, due_at",
                           id=self.payment.renewal_id)
        if rows:
            loan_id, previous, due = rows[0]
            self._c.run("UPDATE loans SET renewals = renewals - 1, due_at = CASE WHEN due_at = :due THEN :previous "
                        "ELSE due_at END WHERE loan_id = CAST(:id AS uuid)", id=loan_id, due=due, previous=previous)
        self.renewal_standing = False

    def intent_closed(self) -> None:
        self._c.run("UPDATE payments SET intent_checked = true WHERE payment_id = CAST(:id AS uuid)",
                    id=self.payment.payment_id)
        self.record_event()

    def remember_event(self, event_id: str) -> bool:
        if self._c.run("SELECT 1 FROM processor_events WHERE event_id = :id", id=event_id):
            return False  # no race: settlers of one payment take turns under its advisory lock
        self._event_id = event_id
        return True

    def record_event(self) -> None:
        if self._event_id is not None:
            self._c.run("INSERT INTO processor_events (event_id) VALUES (:id) ON CONFLICT DO NOTHING", id=self._event_id)
            self._event_id = None
