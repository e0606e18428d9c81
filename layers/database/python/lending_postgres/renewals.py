"""Renewals on PostgreSQL: a loan extended, paid for again, never past a committed hold.

A renewal locks its title's row first, as placing a hold does (circulation.py): of a renewal and a
hold placed on the title's last copy at once, whichever commits first wins, and the other sees it.
"""

from __future__ import annotations

import uuid
from datetime import datetime, timedelta
from typing import Any

from pg8000.exceptions import DatabaseError

from lending.errors import LoanNotFound, RenewalRefused
from lending.fees_model import FeePolicy
from lending.model import Loan, User
from lending_postgres import fee_moves
from lending_postgres.circulation import Conn, lock_title
from lending_postgres.connection import ConnectionPool
from lending_postgres.rows import LOAN, LOAN_BY_ID, UNIQUE_VIOLATION, attach_payment, loan_row, sqlstate

_LOAN_AND_TITLE = f"SELECT {LOAN}, b.title_id::text FROM loans l JOIN books b USING (book_id) WHERE l.loan_id = CAST(:id AS uuid)"


def _refusal(c: Conn, row: list[Any] | None, patron: User, max_renewals: int) -> Loan:
    """The loan, if it may be renewed now; else the refusal. Reads what the caller's locks allow."""
    loan = loan_row(row[:-1]) if row else None
    if loan is None or (loan.borrower.issuer, loan.borrower.subject) != (patron.issuer, patron.subject):
        raise LoanNotFound("You have no loan with this id.")
    if loan.returned_at is not None:
        raise RenewalRefused("This loan is closed: there is nothing to renew.", reason="not_on_loan")
    if loan.renewals >= max_renewals:
        raise RenewalRefused(f"A loan may be renewed at most {max_renewals} times.", reason="renewal_limit")
    assert row is not None
    blocked = c.run(
        "SELECT EXISTS (SELECT 1 FROM holds WHERE title_id = CAST(:t AS uuid) AND status = 'waiting' "
        "AND (patron_iss, patron_sub) <> (:iss, :sub)) "
        "AND NOT EXISTS (SELECT 1 FROM books WHERE title_id = CAST(:t AS uuid) AND status = 'available')",
        t=row[-1], iss=patron.issuer, sub=patron.subject)[0][0]
    if blocked:
        raise RenewalRefused("Another patron is waiting for this title: please return it by its due date.",
                             reason="on_hold")
    return loan


class RenewalQueries:
    pool: ConnectionPool

    def check_renewal(self, loan_id: str, patron: User, *, max_renewals: int) -> Loan:
        with self.pool.connection() as c:
            rows = c.run(_LOAN_AND_TITLE, id=loan_id)
            return _refusal(c, rows[0] if rows else None, patron, max_renewals)

    def renew_loan(self, loan_id: str, patron: User, payment_id: str, *, now: datetime, loan_period: timedelta,
                   max_renewals: int, fees: FeePolicy | None = None) -> Loan:
        with self.pool.transaction() as c:
            found = c.run(_LOAN_AND_TITLE, id=loan_id)
            if not found:
                raise LoanNotFound("You have no loan with this id.")
            lock_title(c, found[0][-1])
            rows = c.run(f"{_LOAN_AND_TITLE} FOR UPDATE OF l", id=loan_id)
            loan = _refusal(c, rows[0] if rows else None, patron, max_renewals)
            due = max(now, loan.due_at) + loan_period
            renewal_id = str(uuid.uuid4())
            # Numbered after every renewal of the loan, reversed ones too: their numbers stay taken, and
            # loans.renewals counts only the standing ones.
            number = c.run("SELECT coalesce(max(number), 0) + 1 FROM renewals WHERE loan_id = CAST(:l AS uuid)",
                           l=loan_id)[0][0]
            try:
                c.run("INSERT INTO renewals (renewal_id, loan_id, number, payment_id, renewed_at, previous_due_at, "
                      "due_at) VALUES (:id, CAST(:l AS uuid), :n, CAST(:p AS uuid), :now, :prev, :due)",
                      id=renewal_id, l=loan_id, n=number, p=payment_id, now=now, prev=loan.due_at, due=due)
            except DatabaseError as exc:
                if sqlstate(exc) == UNIQUE_VIOLATION:
                    raise RenewalRefused("This loan was renewed a moment ago.", reason="renewal_limit") from exc
                raise
            if fees is not None:  # renewing an overdue loan settles its late fee so far (from the old due date)
                fee_moves.charge_late_fee(c, loan_id, until=now, fees=fees, renewal_id=renewal_id, due_at=loan.due_at)
            c.run("UPDATE loans SET due_at = :due, renewals = renewals + 1 WHERE loan_id = CAST(:l AS uuid)",
                  due=due, l=loan_id)
            attach_payment(c, payment_id, "renewal_id", renewal_id)
            rows = c.run(LOAN_BY_ID, id=loan_id)
        return loan_row(rows[0])
