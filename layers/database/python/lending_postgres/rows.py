"""What the store modules share: column lists, row mappers and the statements that decide races."""

from __future__ import annotations

from typing import Any

import pg8000.native
from pg8000.exceptions import DatabaseError

from lending.errors import BookUnavailable, NotOnLoan, PaymentReleased
from lending.model import Book, BookStatus, Loan, Payment, PaymentKind, PaymentState, Purchase, User
from lending_postgres.refusals import RELEASED, TAKEN

BOOK = ("book_id::text, isbn, title, author, price_cents, borrow_fee_cents, currency, status, created_at, "
         "title_id::text")
PAYMENT = ("payment_id::text, kind, book_id::text, payer_iss, payer_sub, amount_cents, currency, state, "
            "intent_id, loan_id::text, purchase_id::text, idempotency_key, failure_reason, "
           "request_id, processor_synced, renewal_id::text")
LOAN = ("l.loan_id::text, l.book_id::text, l.borrower_iss, l.borrower_sub, l.borrower_name, l.borrowed_at, "
         "l.due_at, l.returned_at, l.payment_id::text, l.closed_reason, b.title, l.renewals")
BOOK_BY_ID = f"SELECT {BOOK} FROM books WHERE book_id = CAST(:id AS uuid)"
LOAN_BY_ID = f"SELECT {LOAN} FROM loans l JOIN books b USING (book_id) WHERE l.loan_id = CAST(:id AS uuid)"
PURCHASE = ("p.purchase_id::text, p.book_id::text, p.buyer_iss, p.buyer_sub, p.purchased_at, "
             "p.payment_id::text, p.reversed_at, b.title")
# A payment reconcile must look at: between steps, processor not yet told, or money without a loan or sale.
UNSETTLED = (
    "(p.state IN ('pending', 'authorized') OR NOT p.processor_synced"
    " OR (p.state = 'captured'"
    "     AND NOT EXISTS (SELECT 1 FROM loans l WHERE l.payment_id = p.payment_id"
    "                     AND l.closed_reason IS DISTINCT FROM 'reversed')"
    "     AND NOT EXISTS (SELECT 1 FROM purchases s WHERE s.payment_id = p.payment_id AND s.reversed_at IS NULL)"
    "     AND NOT EXISTS (SELECT 1 FROM renewals r WHERE r.payment_id = p.payment_id AND r.reversed_at IS NULL)"
    "     AND NOT EXISTS (SELECT 1 FROM charges c WHERE c.payment_id = p.payment_id))"
    # A failed payment's intent may still be open (e.g. its cancel after a confirm failed): until seen closed.
    " OR (p.state = 'failed' AND p.intent_id IS NOT NULL AND NOT p.intent_checked))"
)
# Not while reconcile is backing off from a payment it failed to settle (see defer_settling).
DUE = "(p.settle_after IS NULL OR p.settle_after <= now())"
UNIQUE_VIOLATION = "23505"
FK_VIOLATION = "23503"


def sqlstate(exc: DatabaseError) -> str:
    return str(exc.args[0].get("C", "")) if exc.args and isinstance(exc.args[0], dict) else ""


def book_row(r: list[Any]) -> Book:
    return Book(r[0], r[1], r[2], r[3], r[4], r[5], r[6].strip(), BookStatus(r[7]), r[8], r[9])


def payment_row(r: list[Any]) -> Payment:
    return Payment(
        payment_id=r[0], kind=PaymentKind(r[1]), book_id=r[2], payer=User(r[3], r[4]), amount_cents=r[5],
        currency=r[6].strip(), state=PaymentState(r[7]), intent_id=r[8], loan_id=r[9], purchase_id=r[10],
        idempotency_key=r[11], failure_reason=r[12], request_id=r[13], processor_synced=r[14], renewal_id=r[15],
    )


def loan_row(r: list[Any]) -> Loan:
    return Loan(r[0], r[1], User(r[2], r[3], name=r[4]), r[5], r[6], r[7], r[8], r[9], r[10], r[11])


def purchase_row(r: list[Any]) -> Purchase:
    return Purchase(r[0], r[1], User(r[2], r[3]), r[4], r[5], r[6], r[7])


def try_move_book(c: pg8000.native.Connection, book_id: str, from_status: BookStatus, to_status: BookStatus) -> bool:
    """The race is decided here: only one caller can move the book out of `from_status`."""
    return bool(c.run("UPDATE books SET status = :to WHERE book_id = CAST(:id AS uuid) AND status = :from RETURNING 1",
                      id=book_id, to=to_status.value, **{"from": from_status.value}))


def move_book(c: pg8000.native.Connection, book_id: str, from_status: BookStatus, to_status: BookStatus) -> None:
    if not try_move_book(c, book_id, from_status, to_status):
        if to_status is BookStatus.AVAILABLE:
            raise NotOnLoan("This book is not on loan.")
        raise BookUnavailable(TAKEN)


def attach_sql(column: str, *, also: str = "") -> str:
    """The conditional update that attaches payment :p to :t; `also` adds a condition (e.g. on a CTE)."""
    return (f"UPDATE payments SET {column} = CAST(:t AS uuid), updated_at = now() "
            f"WHERE payment_id = CAST(:p AS uuid) AND state = 'authorized' AND loan_id IS NULL "
            f"AND purchase_id IS NULL AND renewal_id IS NULL{also} RETURNING 1")


def released() -> PaymentReleased:
    return PaymentReleased(RELEASED)


def attach_payment(c: pg8000.native.Connection, payment_id: str, column: str, target_id: str) -> None:
    if not c.run(attach_sql(column), t=target_id, p=payment_id):
        raise released()


def attach_payment_reading(c: pg8000.native.Connection, payment_id: str, column: str, target_id: str,
                           select: str, **params: Any) -> list[Any]:
    """attach_payment and `select` (a query ending in a WHERE clause) in one statement: its first row, read
    only if the payment was attached (the CTE's update runs whatever the select finds)."""
    rows = c.run(f"WITH attached AS ({attach_sql(column)}) {select} AND EXISTS (SELECT 1 FROM attached)",
                 t=target_id, p=payment_id, **params)
    if not rows:
        raise released()
    row: list[Any] = rows[0]
    return row


def update_payment_row(c: pg8000.native.Connection, payment_id: str, state: PaymentState, *,
                    intent_id: str | None = None, reason: str | None = None, synced: bool = True,
                    only_from: tuple[PaymentState, ...] = ()) -> bool:
    guard = ""
    params: dict[str, Any] = {"id": payment_id, "state": state.value, "intent": intent_id, "reason": reason,
                              "synced": synced}
    if only_from:
        guard = " AND state = ANY(:from_states)"
        params["from_states"] = [s.value for s in only_from]
    rows = c.run(
        "UPDATE payments SET state = :state, intent_id = coalesce(:intent, intent_id), "
        "failure_reason = coalesce(:reason, failure_reason), processor_synced = :synced, updated_at = now(), "
        # the revenue report's day of a refund: when the ledger first said so
        "refunded_at = CASE WHEN :state = 'refunded' THEN coalesce(refunded_at, now()) ELSE refunded_at END "
        f"WHERE payment_id = CAST(:id AS uuid){guard} RETURNING 1", **params)
    return bool(rows)
