"""Lending and returning copies, with the hold shelf: PostgresStore's moves of a copy.

Every transaction here that moves a copy first locks its title's row (FOR NO KEY UPDATE, so
foreign-key checks against the title are not blocked): holds, returns, renewals and loans of one
title take turns, and always lock in the same order (title, then hold, loan or copy), so they
cannot deadlock with each other.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime, timedelta
from typing import Any, TypeAlias

import pg8000.native
from pg8000.exceptions import DatabaseError

from lending.errors import BookNotFound, BookUnavailable, HeldForAnother, NoCopyAvailable, NotOnLoan, NotYourLoan
from lending.fees_model import FeePolicy
from lending.model import Book, BookStatus, Loan, User
from lending_postgres import fee_moves
from lending_postgres.connection import ConnectionPool
from lending_postgres.notice_hooks import write_notice
from lending_postgres.refusals import PAYMENT_ATTACHED, TAKEN, refusals
from lending_postgres.rows import (
    BOOK,
    FK_VIOLATION,
    LOAN,
    LOAN_BY_ID,
    UNIQUE_VIOLATION,
    attach_payment_reading,
    attach_sql,
    book_row,
    loan_row,
    move_book,
    sqlstate,
)

CHECK_VIOLATION = "23514"  # also raised by the triggers that guard the hold shelf
Conn: TypeAlias = pg8000.native.Connection


_LOCK_TITLE_OF_BOOK = ("SELECT t.title_id::text FROM books b JOIN titles t USING (title_id) "
                       "WHERE b.book_id = CAST(:b AS uuid) FOR NO KEY UPDATE OF t")


def lock_title_of_book(c: Conn, book_id: str) -> str | None:
    rows = c.run(_LOCK_TITLE_OF_BOOK, b=book_id)
    return rows[0][0] if rows else None


def lock_title(c: Conn, title_id: str) -> bool:
    return bool(c.run("SELECT 1 FROM titles WHERE title_id = CAST(:t AS uuid) FOR NO KEY UPDATE", t=title_id))


# From the open shelf, in one statement: move the copy, open its loan, attach the payment. Each step
# runs only if the one before it did; the counts say which did not. The title is locked already. A copy
# moved whose payment could not be attached (reconcile released it) refuses the statement itself
# (migration 0013), so its transaction cannot commit the loan without its payment, even with the
# COMMIT sent in the same round trip (lend_from_shelf).
_LEND_FROM_SHELF = (
    "WITH moved AS (UPDATE books SET status = 'borrowed' WHERE book_id = CAST(:book AS uuid) "
    "AND status = :from RETURNING title), "
    "opened AS (INSERT INTO loans (loan_id, book_id, borrower_iss, borrower_sub, borrower_name, payment_id, due_at) "
    "SELECT CAST(:t AS uuid), CAST(:book AS uuid), :iss, :sub, :name, CAST(:p AS uuid), :due FROM moved RETURNING *), "
    f"attached AS ({attach_sql('loan_id', also=' AND EXISTS (SELECT 1 FROM opened)')}) "
    "SELECT (SELECT count(*) FROM moved), (SELECT count(*) FROM attached), "
    "CASE WHEN (SELECT count(*) FROM moved) > 0 AND (SELECT count(*) FROM attached) = 0 "
    f"THEN refuse('{PAYMENT_ATTACHED}', 'the payment was released before the loan could be attached') END, {LOAN} "
    "FROM (VALUES (1)) AS one LEFT JOIN opened l ON true LEFT JOIN moved b ON true"  # LOAN reads l.* and b.title
)


def _from_shelf(book_id: str, borrower: User, payment_id: str, due_at: datetime) -> tuple[str, dict[str, Any]]:
    return (_LEND_FROM_SHELF, {"book": book_id, "t": str(uuid.uuid4()), "p": payment_id, "iss": borrower.issuer,
                               "sub": borrower.subject, "name": borrower.name or borrower.handle, "due": due_at,
                               "from": BookStatus.AVAILABLE.value})


def _locked_and_lent(c: Conn, from_shelf: tuple[str, dict[str, Any]], *, commit: bool = False) -> list[Any]:
    """The title's lock and the move from the open shelf, in one round trip (a pipeline): the move runs
    once the lock is held, with a snapshot taken after it. The move's row: (moved, attached, _, *loan)."""
    with _refused_loan():
        locked, rows = c.pipeline((_LOCK_TITLE_OF_BOOK, {"b": from_shelf[1]["book"]}), from_shelf, commit=commit)
    if not locked:
        raise BookUnavailable("No such book to lend.")
    row: list[Any] = rows[0]
    return row


def lend_from_shelf(c: Conn, book_id: str, borrower: User, payment_id: str, due_at: datetime) -> Loan | None:
    """The title's lock, the copy lent from the open shelf and the COMMIT, in one round trip (a pipeline in
    the transaction `c` began). The loan, committed; or None if the copy was not on the open shelf, with
    nothing done and the transaction ended (the caller takes the hold shelf's path in a new one). A lost
    race or a released payment is refused by the database, and the COMMIT after it is a ROLLBACK."""
    moved, _attached, _refused, *loan = _locked_and_lent(c, _from_shelf(book_id, borrower, payment_id, due_at),
                                                         commit=True)
    return loan_row(loan) if moved else None


def lend(c: Conn, book_id: str, borrower: User, payment_id: str, due_at: datetime, *,
         title_locked: bool = True) -> Loan:
    """Move the copy to `borrower` (from the shelf, or from the hold shelf if it waits for them),
    open the loan, fulfil the hold it waited for, attach the payment. Returns the loan.

    With `title_locked=False`, the title's lock is taken first, in the same round trip (a pipeline):
    the move runs once the lock is held, with a snapshot taken after it."""
    from_shelf = _from_shelf(book_id, borrower, payment_id, due_at)
    loan_id = from_shelf[1]["t"]
    if title_locked:
        with _refused_loan():
            row = c.run(from_shelf[0], **from_shelf[1])[0]
    else:
        row = _locked_and_lent(c, from_shelf)
    moved, _attached, _refused, *loan = row
    if moved:  # and its payment attached: a moved copy whose payment was not is refused by the statement itself
        return loan_row(loan)
    # A copy on the open shelf has no ready hold (holds_ready_copy_on_shelf), so the hold shelf is
    # looked at only when the copy is not there.
    held = c.run("SELECT hold_id::text, patron_iss, patron_sub FROM holds WHERE book_id = CAST(:b AS uuid) "
                 "AND status = 'ready' FOR UPDATE", b=book_id)
    if not held:
        raise BookUnavailable(TAKEN)
    hold_id, iss, sub = held[0]
    if (iss, sub) != (borrower.issuer, borrower.subject):
        raise HeldForAnother("This copy waits on the hold shelf for another patron.",
                             book_status="on_hold_shelf", reason="on_hold_shelf")
    move_book(c, book_id, BookStatus.ON_HOLD_SHELF, BookStatus.BORROWED)
    with _refused_loan():
        c.run("INSERT INTO loans (loan_id, book_id, borrower_iss, borrower_sub, borrower_name, payment_id, due_at) "
              "VALUES (:id, :book, :iss, :sub, :name, :pay, :due)",
              id=loan_id, book=book_id, iss=borrower.issuer, sub=borrower.subject,
              name=borrower.name or borrower.handle, pay=payment_id, due=due_at)
    c.run("UPDATE holds SET status = 'fulfilled', loan_id = CAST(:l AS uuid), closed_at = now() "
          "WHERE hold_id = CAST(:h AS uuid)", l=loan_id, h=hold_id)
    return loan_row(attach_payment_reading(c, payment_id, "loan_id", loan_id, LOAN_BY_ID, id=loan_id))


@contextmanager
def _refused_loan() -> Iterator[None]:
    """A loan the constraints refuse (the copy is lent, sold or held already) is a lost race."""
    try:
        yield
    except DatabaseError as exc:
        if sqlstate(exc) in (UNIQUE_VIOLATION, FK_VIOLATION, CHECK_VIOLATION):
            raise BookUnavailable(TAKEN) from exc
        raise


def shelve(c: Conn, book_id: str, title_id: str, from_status: BookStatus, *, now: datetime,
           pickup_period: timedelta) -> str | None:
    """Put a copy back: on the hold shelf for the first patron waiting for its title (returned: that
    hold's id), else on the open shelf. The caller holds the title's lock."""
    waiting = c.run("SELECT hold_id::text, patron_iss, patron_sub FROM holds WHERE title_id = CAST(:t AS uuid) "
                    "AND status = 'waiting' ORDER BY seq LIMIT 1 FOR UPDATE", t=title_id)
    to = BookStatus.ON_HOLD_SHELF if waiting else BookStatus.AVAILABLE
    moved = c.run("UPDATE books SET status = :to WHERE book_id = CAST(:b AS uuid) AND status = :from RETURNING 1",
                  b=book_id, to=to.value, **{"from": from_status.value})
    if not moved:
        raise NotOnLoan("This book is not on loan.")
    if not waiting:
        return None
    return _ready_for(c, waiting[0], book_id, title_id, now=now, pickup_period=pickup_period)


def _ready_for(c: Conn, hold: list[Any], book_id: str, title_id: str, *, now: datetime,
               pickup_period: timedelta) -> str:
    """The copy, now on the hold shelf, is ready for `hold` (its id, patron iss and sub): tell them."""
    hold_id, iss, sub = hold
    c.run("UPDATE holds SET status = 'ready', book_id = CAST(:b AS uuid), ready_at = :now, "
          "ready_until = :until WHERE hold_id = CAST(:h AS uuid)",
          b=book_id, now=now, until=now + pickup_period, h=hold_id)
    title = c.run("SELECT title FROM titles WHERE title_id = CAST(:t AS uuid)", t=title_id)[0][0]
    write_notice(c, kind="hold_ready", patron_iss=iss, patron_sub=sub, hold_id=hold_id,
                 details={"title": title, "ready_until": (now + pickup_period).isoformat(), "book_id": book_id})
    return str(hold_id)


# A return, in one statement after the title's lock: close the open loan, and put the copy on the hold
# shelf if someone waits for its title (the first in line is read and locked), else on the open shelf.
# Sent with the lock in one round trip, so it finds the title by the copy.
_CLOSE_AND_SHELVE = (
    f"WITH closed AS (UPDATE loans l SET returned_at = now(), closed_reason = 'returned' FROM books b "
    f"WHERE b.book_id = l.book_id AND l.book_id = CAST(:b AS uuid) AND l.returned_at IS NULL RETURNING {LOAN}), "
    "waiting AS (SELECT hold_id::text, patron_iss, patron_sub FROM holds "
    "WHERE title_id = (SELECT title_id FROM books WHERE book_id = CAST(:b AS uuid)) "
    "AND status = 'waiting' ORDER BY seq LIMIT 1 FOR UPDATE), "
    "shelved AS (UPDATE books SET status = CASE WHEN EXISTS (SELECT 1 FROM waiting) THEN 'on_hold_shelf' "
    "ELSE 'available' END WHERE book_id = CAST(:b AS uuid) AND status = :from "
    "AND EXISTS (SELECT 1 FROM closed) RETURNING 1) "
    "SELECT closed.*, (SELECT count(*) FROM shelved), w.hold_id, w.patron_iss, w.patron_sub "
    "FROM closed LEFT JOIN waiting w ON true"
)


def _loan(c: Conn, loan_id: str) -> Loan:
    return loan_row(c.run(LOAN_BY_ID, id=loan_id)[0])


class CirculationMoves:
    """open_loan, close_loan and lending by title, aware of the hold shelf."""

    pool: ConnectionPool

    def open_loan(self, book_id: str, borrower: User, payment_id: str, due_at: datetime) -> Loan:
        with refusals(), self.pool.transaction() as c:
            loan = lend_from_shelf(c, book_id, borrower, payment_id, due_at)
        if loan is not None:
            return loan
        with refusals(), self.pool.transaction() as c:  # not on the open shelf: maybe on the hold shelf for them
            return lend(c, book_id, borrower, payment_id, due_at, title_locked=False)

    def lend_copy_of_title(self, title_id: str, borrower: User, payment_id: str, due_at: datetime) -> Loan:
        with refusals(), self.pool.transaction() as c:
            if not lock_title(c, title_id):
                raise NoCopyAvailable("No such title.", reason="no_copy_available")
            paid = c.run("SELECT amount_cents, currency FROM payments WHERE payment_id = CAST(:p AS uuid)",
                         p=payment_id)
            book_id = _waiting_for(c, title_id, borrower) or (_free_copy(c, title_id, *paid[0]) if paid else None)
            if not book_id:
                raise NoCopyAvailable("Every copy of this title was taken a moment ago; place a hold to be next.",
                                      reason="no_copy_available", place_hold=f"/titles/{title_id}/holds")
            # The fee was authorised for a copy like this one: the ledger names the copy it pays for.
            c.run("UPDATE payments SET book_id = CAST(:b AS uuid) WHERE payment_id = CAST(:p AS uuid)",
                  b=book_id, p=payment_id)
            return lend(c, book_id, borrower, payment_id, due_at)

    def close_loan(self, book_id: str, caller: User, *, now: datetime | None = None,
                   pickup_period: timedelta = timedelta(days=7), fees: FeePolicy | None = None) -> Loan:
        with self.pool.transaction() as c:
            # The title's lock, then the loan closed, the copy shelved and both read: one round trip. A caller
            # who may not return it rolls it all back below.
            locked, rows = c.pipeline((_LOCK_TITLE_OF_BOOK, {"b": book_id}),
                                      (_CLOSE_AND_SHELVE, {"b": book_id, "from": BookStatus.BORROWED.value}))
            if not locked:  # every copy has a title (books_have_a_title)
                raise BookNotFound.with_id(book_id)
            title_id = locked[0][0]
            when = now or c.run("SELECT now()")[0][0]
            if not rows and c.run(
                    "SELECT 1 FROM books WHERE book_id = CAST(:b AS uuid) AND status = 'lost'", b=book_id):
                loan_id = fee_moves.found_lost_copy(c, book_id, caller, now=when)
                shelve(c, book_id, title_id, BookStatus.LOST, now=when, pickup_period=pickup_period)
                return _loan(c, loan_id)
            if not rows or not rows[0][12]:  # no open loan, or its copy was not out on it
                raise NotOnLoan("This book is not on loan.")
            loan = loan_row(rows[0])  # as it stays: neither the fee nor the shelving changes the loan's row
            if (loan.borrower.issuer, loan.borrower.subject) != (caller.issuer, caller.subject) \
                    and not caller.is_librarian:
                raise NotYourLoan("Only the borrower or a librarian may return this loan.")
            if fees is not None:
                fee_moves.charge_late_fee(c, loan.loan_id, until=when, fees=fees, due_at=loan.due_at)
            if rows[0][13] is not None:  # the first in line's copy is ready for them
                _ready_for(c, rows[0][13:16], book_id, title_id, now=when, pickup_period=pickup_period)
            return loan

    def copy_to_lend(self, title_id: str, borrower: User) -> Book | None:
        with self.pool.connection() as c:
            book_id = _waiting_for(c, title_id, borrower)
            where = "book_id = CAST(:b AS uuid)" if book_id else "title_id = CAST(:t AS uuid) AND status = 'available'"
            rows = c.run(f"SELECT {BOOK} FROM books WHERE {where} ORDER BY created_at, book_id LIMIT 1",
                         **({"b": book_id} if book_id else {"t": title_id}))
        return book_row(rows[0]) if rows else None

    def holder_of(self, book_id: str) -> User | None:
        with self.pool.connection() as c:
            rows = c.run("SELECT patron_iss, patron_sub, patron_name FROM holds WHERE book_id = CAST(:b AS uuid) "
                         "AND status = 'ready'", b=book_id)
        return User(rows[0][0], rows[0][1], name=rows[0][2]) if rows else None


def _waiting_for(c: Conn, title_id: str, patron: User) -> str | None:
    rows = c.run("SELECT book_id::text FROM holds WHERE title_id = CAST(:t AS uuid) AND status = 'ready' "
                 "AND patron_iss = :iss AND patron_sub = :sub", t=title_id, iss=patron.issuer, sub=patron.subject)
    return rows[0][0] if rows else None


def _free_copy(c: Conn, title_id: str, amount_cents: Any, currency: Any) -> str | None:
    """A free copy whose fee is what was authorised; one another transaction is taking is skipped."""
    rows = c.run("SELECT book_id::text FROM books WHERE title_id = CAST(:t AS uuid) AND status = 'available' "
                 "AND borrow_fee_cents = :fee AND currency = :cur ORDER BY created_at, book_id LIMIT 1 "
                 "FOR UPDATE SKIP LOCKED", t=title_id, fee=amount_cents, cur=currency)
    return rows[0][0] if rows else None
