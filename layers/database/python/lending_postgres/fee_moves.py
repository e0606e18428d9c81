"""Fees written inside the transactions that move a copy (a return, a renewal, declaring it lost, finding it).

Each helper runs in the caller's transaction, with the title's row already locked (circulation.py),
so the charges commit or roll back with the move: a return never fails for money reasons, because
a fee is a charge on the account, never a card payment.
"""

from __future__ import annotations

import uuid
from datetime import datetime, timedelta
from typing import Any

from lending.errors import NotOnLoan, NotYourLoan
from lending.fees import late_fee
from lending.fees_model import FeePolicy
from lending.model import User
from lending_postgres.notice_hooks import write_notice

Conn = Any  # a pg8000.native.Connection inside the caller's transaction

_INSERT = ("INSERT INTO charges (charge_id, patron_iss, patron_sub, kind, amount_cents, currency, loan_id, renewal_id, "
           "cancels, late_from, late_until) VALUES (CAST(:id AS uuid), :iss, :sub, :kind, :amount, :cur, "
           "CAST(:loan AS uuid), CAST(:renewal AS uuid), CAST(:cancels AS uuid), :late_from, :late_until)")


def add_charge(c: Conn, *, iss: str, sub: str, kind: str, amount: int, currency: str, loan_id: str | None,
               renewal_id: str | None = None, cancels: str | None = None, late_from: datetime | None = None,
               late_until: datetime | None = None) -> str:
    charge_id = str(uuid.uuid4())
    c.run(_INSERT, id=charge_id, iss=iss, sub=sub, kind=kind, amount=amount, cur=currency, loan=loan_id,
          renewal=renewal_id, cancels=cancels, late_from=late_from, late_until=late_until)
    return charge_id


def charge_late_fee(c: Conn, loan_id: str, *, until: datetime, fees: FeePolicy,
                    renewal_id: str | None = None, due_at: datetime | None = None) -> str | None:
    """The loan's late fee up to `until`, counted from its due date or from where an earlier late fee of the
    loan (one settled by renewing) stopped, and capped so that all its late fees stay within the copy's price.

    A caller that knows the due date passes `due_at`: within its grace period there is no fee from any later
    start either, so nothing is read."""
    if due_at is not None and not late_fee(due_at, until, fees, 1):
        return None
    rows = c.run(
        "SELECT l.due_at, l.borrower_iss, l.borrower_sub, b.price_cents, b.currency, "
        "coalesce((SELECT sum(amount_cents) FROM charges WHERE loan_id = l.loan_id AND kind = 'late_fee'), 0), "
        "(SELECT max(late_until) FROM charges WHERE loan_id = l.loan_id AND kind = 'late_fee') "
        "FROM loans l JOIN books b USING (book_id) WHERE l.loan_id = CAST(:l AS uuid)", l=loan_id)
    due, iss, sub, price, currency, charged, counted_until = rows[0]
    start = max(due, counted_until) if counted_until else due
    amount = late_fee(start, until, fees, price - int(charged))
    if amount <= 0:
        return None
    return add_charge(c, iss=iss, sub=sub, kind="late_fee", amount=amount, currency=currency.strip(), loan_id=loan_id,
                      renewal_id=renewal_id, late_from=start, late_until=until)


def declare_one_lost(c: Conn, loan_id: str, *, now: datetime, lost_after: timedelta,
                     fees: FeePolicy) -> tuple[str, str, str | None] | None:
    """(book id, lost charge id, late fee id) if the loan was still open and due before now - lost_after."""
    rows = c.run("SELECT l.book_id::text, l.borrower_iss, l.borrower_sub, b.price_cents, b.currency, b.title "
                 "FROM loans l JOIN books b USING (book_id) WHERE l.loan_id = CAST(:l AS uuid) "
                 "AND l.returned_at IS NULL AND l.due_at < :cut FOR UPDATE OF l", l=loan_id, cut=now - lost_after)
    if not rows:
        return None  # returned, or renewed, since it was listed
    book_id, iss, sub, price, currency, title = rows[0]
    late = charge_late_fee(c, loan_id, until=now, fees=fees)
    c.run("UPDATE loans SET returned_at = greatest(:now, borrowed_at), closed_reason = 'lost' "
          "WHERE loan_id = CAST(:l AS uuid)", now=now, l=loan_id)
    c.run("UPDATE books SET status = 'lost' WHERE book_id = CAST(:b AS uuid) AND status = 'borrowed'", b=book_id)
    lost = add_charge(c, iss=iss, sub=sub, kind="lost_item", amount=price, currency=currency.strip(), loan_id=loan_id)
    write_notice(c, kind="lost_charged", patron_iss=iss, patron_sub=sub, loan_id=loan_id, charge_id=lost,
                 details={"title": title, "amount_cents": price, "currency": currency.strip()})
    return book_id, lost, late


def found_lost_copy(c: Conn, book_id: str, caller: User, *, now: datetime) -> str:
    """A lost copy is back (from its last borrower, or at the desk): its lost charge is reversed (what no
    waiver already took off) and the late fee stays. The caller shelves the copy (next in line, or the shelf)."""
    rows = c.run("SELECT loan_id::text, borrower_iss, borrower_sub FROM loans WHERE book_id = CAST(:b AS uuid) "
                 "AND closed_reason = 'lost' AND found_at IS NULL ORDER BY returned_at DESC LIMIT 1 FOR UPDATE",
                 b=book_id)
    if not rows:
        raise NotOnLoan("This book is not on loan.")
    loan_id, iss, sub = rows[0]
    if (iss, sub) != (caller.issuer, caller.subject) and not caller.is_librarian:
        raise NotYourLoan("Only the borrower or a librarian may return this loan.")
    c.run("UPDATE loans SET found_at = :now WHERE loan_id = CAST(:l AS uuid)", now=now, l=loan_id)
    lost = c.run("SELECT charge_id::text, currency, amount_cents + coalesce((SELECT sum(u.amount_cents) FROM charges u "
                 "WHERE u.cancels = c.charge_id), 0) FROM charges c WHERE c.loan_id = CAST(:l AS uuid) "
                 "AND c.kind = 'lost_item'", l=loan_id)
    if lost and lost[0][2] > 0:
        add_charge(c, iss=iss, sub=sub, kind="lost_item_reversed", amount=-int(lost[0][2]),
                   currency=lost[0][1].strip(), loan_id=loan_id, cancels=lost[0][0])
    return str(loan_id)
