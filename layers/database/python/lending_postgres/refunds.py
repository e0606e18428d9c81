"""A librarian's refund of a sale, on PostgreSQL: the ledger's half, before the processor is asked.

One transaction, under the title's lock: the standing sale is reversed (conditional on
`reversed_at IS NULL`, so of twenty refunds at once one wins), the copy goes back on the shelf
(or to the hold shelf, for a title someone waits for), and the payment becomes `refunded` with
`processor_synced = false`. The processor is told next (lending.desk); if that never happens,
reconcile finds the unsynced row and refunds it with the same idempotency key.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from lending.errors import PurchaseNotFound, RefundRefused
from lending.model import BookStatus, Payment, User
from lending_postgres.circulation import lock_title_of_book, shelve
from lending_postgres.connection import ConnectionPool
from lending_postgres.rows import PAYMENT, payment_row


class SaleRefunds:
    pool: ConnectionPool

    def reverse_sale_for_refund(self, purchase_id: str, librarian: User, reason: str, *, now: datetime,
                                pickup_period: timedelta) -> Payment:
        with self.pool.transaction() as c:
            found = c.run("SELECT book_id::text FROM purchases WHERE purchase_id = CAST(:p AS uuid)", p=purchase_id)
            if not found:
                raise PurchaseNotFound("No such purchase.")
            title_id = lock_title_of_book(c, found[0][0])
            sale = c.run("SELECT reversed_at, payment_id::text FROM purchases WHERE purchase_id = CAST(:s AS uuid) "
                         "FOR UPDATE", s=purchase_id)
            reversed_at, payment_id = sale[0]
            if reversed_at is not None:  # before the payment's lock: the refund that won settles it right now
                raise RefundRefused("This sale was refunded (or reversed) already.", reason="already_refunded")
            rows = c.run(f"SELECT {PAYMENT} FROM payments WHERE payment_id = CAST(:p AS uuid) FOR UPDATE", p=payment_id)
            payment = payment_row(rows[0])
            if payment.book_id is None or payment.state.value != "captured":  # a sale's payment names its copy
                raise RefundRefused(f"This sale's payment is {payment.state.value}, not captured: nothing to refund.",
                                    reason="not_refundable")
            c.run("UPDATE purchases SET reversed_at = now(), reversed_reason = :r, refunded_by_iss = :iss, "
                  "refunded_by_sub = :sub WHERE purchase_id = CAST(:s AS uuid)",
                  s=purchase_id, r=reason, iss=librarian.issuer, sub=librarian.subject)
            if title_id is not None:
                shelve(c, str(payment.book_id), title_id, BookStatus.SOLD, now=now, pickup_period=pickup_period)
            c.run("UPDATE payments SET state = 'refunded', processor_synced = false, failure_reason = :r, "
                  "refunded_at = now(), updated_at = now() WHERE payment_id = CAST(:p AS uuid)",
                  p=payment.payment_id, r=f"refunded by a librarian: {reason}"[:500])
            rows = c.run(f"SELECT {PAYMENT} FROM payments WHERE payment_id = CAST(:p AS uuid)", p=payment.payment_id)
        return payment_row(rows[0])
