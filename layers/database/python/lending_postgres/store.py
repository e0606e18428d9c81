"""LendingStore on PostgreSQL. Each public method is one transaction."""

from __future__ import annotations

import contextlib
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime
from typing import Any

import pg8000.native
from pg8000.exceptions import DatabaseError

from lending.errors import BookNotFound, BookUnavailable, LendingError, NotOnLoan, NotYourLoan, PaymentReleased
from lending.model import (
    Book,
    BookQuery,
    BookStatus,
    Loan,
    NewBook,
    Page,
    Payment,
    PaymentKind,
    PaymentState,
    Purchase,
    User,
)
from lending.ports import IdempotencyClaim, Purged, StoredResponse
from lending_postgres.connection import ConnectionPool
from lending_postgres.lookups import LedgerLookups
from lending_postgres.migrate import pending_migrations
from lending_postgres.replica import ReplicaPool

_BOOK = "book_id::text, isbn, title, author, price_cents, borrow_fee_cents, currency, status, created_at"
_PAYMENT = ("payment_id::text, kind, book_id::text, payer_iss, payer_sub, amount_cents, currency, state, "
            "intent_id, loan_id::text, purchase_id::text, idempotency_key, failure_reason, request_id, processor_synced")
_LOAN = ("l.loan_id::text, l.book_id::text, l.borrower_iss, l.borrower_sub, l.borrower_name, l.borrowed_at, "
         "l.due_at, l.returned_at, l.payment_id::text, l.closed_reason, b.title")
_PURCHASE = ("p.purchase_id::text, p.book_id::text, p.buyer_iss, p.buyer_sub, p.purchased_at, "
             "p.payment_id::text, p.reversed_at, b.title")
# A payment reconcile must look at: between steps, processor not yet told, or money without a loan or sale.
_UNSETTLED = (
    "(p.state IN ('pending', 'authorized') OR NOT p.processor_synced"
    " OR (p.state = 'captured'"
    "     AND NOT EXISTS (SELECT 1 FROM loans l WHERE l.payment_id = p.payment_id"
    "                     AND l.closed_reason IS DISTINCT FROM 'reversed')"
    "     AND NOT EXISTS (SELECT 1 FROM purchases s WHERE s.payment_id = p.payment_id AND s.reversed_at IS NULL))"
    # A failed payment's intent may still be open (e.g. its cancel after a confirm failed): until seen closed.
    " OR (p.state = 'failed' AND p.intent_id IS NOT NULL AND NOT p.intent_checked))"
)
# Not while reconcile is backing off from a payment it failed to settle (see defer_settling).
_DUE = "(p.settle_after IS NULL OR p.settle_after <= now())"
_TAKEN = "Someone else has just borrowed or bought this book."
_RELEASED = ("The payment authorisation was released before the book could be reserved; "
             "nothing was charged, please try again.")
# A race lost to another transaction is refused by whichever guard sees it first (migrations
# 0001, 0002): each refusal, by the guard's name, is the domain error the loser gets.
_REFUSALS: dict[str, tuple[type[LendingError], str]] = {
    "loans_one_open_per_book": (BookUnavailable, _TAKEN),
    "purchases_one_sale_per_book": (BookUnavailable, _TAKEN),
    "loans_book_id_open_status_fkey": (BookUnavailable, _TAKEN),  # the book is sold (or not borrowed)
    "purchases_book_id_sold_status_fkey": (BookUnavailable, _TAKEN),  # the book is lent (or not sold)
    "loans_book_id_fkey": (BookNotFound, "This book no longer exists."),
    "purchases_book_id_fkey": (BookNotFound, "This book no longer exists."),
    "loans_payment_id_fkey": (PaymentReleased, _RELEASED),
    "purchases_payment_id_fkey": (PaymentReleased, _RELEASED),
    "payments_one_per_loan": (PaymentReleased, _RELEASED),
    "payments_one_per_purchase": (PaymentReleased, _RELEASED),
    "payments_check": (PaymentReleased, _RELEASED),
    "loans_payment_pays_for_this": (PaymentReleased, _RELEASED),
    "purchases_payment_pays_for_this": (PaymentReleased, _RELEASED),
}
# Serialization failure, deadlock: the other transaction won (only under REPEATABLE READ or
# SERIALIZABLE, or a lock cycle with reconcile); the loser is told to try again.
_LOST_TO_CONCURRENT = ("40001", "40P01")
# Jobs' advisory locks use the two-key form, a key space apart from the one-key locks (migrations, settling).
_JOB_LOCKS = 17


def _sqlstate(exc: DatabaseError) -> str:
    return str(exc.args[0].get("C", "")) if exc.args and isinstance(exc.args[0], dict) else ""


def refusal(exc: DatabaseError) -> LendingError | None:
    """The domain error a database refusal means to the caller, or None if it is not a lost race."""
    if _sqlstate(exc) in _LOST_TO_CONCURRENT:
        return BookUnavailable("Another request changed this book at the same moment; please try again.")
    name = str(exc.args[0].get("n", "")) if exc.args and isinstance(exc.args[0], dict) else ""
    if name in _REFUSALS and _sqlstate(exc) in ("23505", "23503", "23514", "P0001"):
        cls, detail = _REFUSALS[name]
        return cls(detail)
    return None


@contextmanager
def _refusals() -> Iterator[None]:
    try:
        yield
    except DatabaseError as exc:
        translated = refusal(exc)
        if translated is None:
            raise
        raise translated from exc


def _book(r: list[Any]) -> Book:
    return Book(r[0], r[1], r[2], r[3], r[4], r[5], r[6].strip(), BookStatus(r[7]), r[8])


def _payment(r: list[Any]) -> Payment:
    return Payment(
        payment_id=r[0], kind=PaymentKind(r[1]), book_id=r[2], payer=User(r[3], r[4]), amount_cents=r[5],
        currency=r[6].strip(), state=PaymentState(r[7]), intent_id=r[8], loan_id=r[9], purchase_id=r[10],
        idempotency_key=r[11], failure_reason=r[12], request_id=r[13], processor_synced=r[14],
    )


def _loan(r: list[Any]) -> Loan:
    return Loan(r[0], r[1], User(r[2], r[3], name=r[4]), r[5], r[6], r[7], r[8], r[9], r[10])


def _purchase(r: list[Any]) -> Purchase:
    return Purchase(r[0], r[1], User(r[2], r[3]), r[4], r[5], r[6], r[7])


class PostgresStore(LedgerLookups):
    """The LendingStore port on PostgreSQL.

    A method that runs one statement runs it outside BEGIN/COMMIT: a single statement is
    atomic on its own, and the two round trips saved count on every money step.

    `reader` (optional) serves catalogue reads, e.g. from a read replica; every write
    and every read-your-own-write goes to `pool`.
    """

    def __init__(self, pool: ConnectionPool, reader: ConnectionPool | ReplicaPool | None = None) -> None:
        self.pool = pool
        self.reader = reader or pool

    # -- catalogue -----------------------------------------------------------------
    def add_book(self, new: NewBook) -> Book:
        with self.pool.transaction() as c:
            rows = c.run(
                f"INSERT INTO books (book_id, isbn, title, author, price_cents, borrow_fee_cents, currency) "
                f"VALUES (:id, :isbn, :title, :author, :price, :fee, :cur) RETURNING {_BOOK}",
                id=str(uuid.uuid4()), isbn=new.isbn, title=new.title, author=new.author, price=new.price_cents,
                fee=new.borrow_fee_cents, cur=new.currency,
            )
        return _book(rows[0])

    def get_book(self, book_id: str) -> Book | None:
        def find(c: pg8000.native.Connection) -> Any:
            return c.run(f"SELECT {_BOOK} FROM books WHERE book_id = CAST(:id AS uuid)", id=book_id)

        rows = self.reader.read(find)
        if not rows and self.reader is not self.pool:  # added a moment ago and not yet replayed on the replica
            rows = self.pool.read(find)
        return _book(rows[0]) if rows else None

    def list_books(self, query: BookQuery) -> Page:
        where: list[str] = ["TRUE"]
        params: dict[str, Any] = {"limit": query.limit, "offset": query.offset}
        if query.text:
            where.append("(title ILIKE :q OR author ILIKE :q OR isbn = :isbn)")
            escaped = query.text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
            params["q"] = f"%{escaped}%"
            params["isbn"] = query.text.replace("-", "").replace(" ", "").upper()
        if query.status:
            where.append("status = :status")
            params["status"] = query.status.value
        clause = " AND ".join(where)
        def search(c: pg8000.native.Connection) -> tuple[Any, Any]:
            rows = c.run(
                f"SELECT {_BOOK}, count(*) OVER () FROM books WHERE {clause} "
                f"ORDER BY title, book_id LIMIT :limit OFFSET :offset", **params)
            total = rows[0][-1] if rows else c.run(f"SELECT count(*) FROM books WHERE {clause}",
                                                   **{k: v for k, v in params.items() if k not in ("limit", "offset")})[0][0]
            return rows, total

        rows, total = self.reader.read(search)
        return Page([_book(r[:-1]) for r in rows], total, query.limit, query.offset)

    # -- ledger --------------------------------------------------------------------
    def record_payment(self, p: Payment) -> None:
        with self.pool.connection() as c:  # one statement: its own transaction
            c.run(
                "INSERT INTO payments (payment_id, kind, book_id, payer_iss, payer_sub, amount_cents, currency, "
                "state, intent_id, idempotency_key, request_id) VALUES (:id, :kind, :book, :iss, :sub, :amount, "
                ":cur, :state, :intent, :key, :rid)",
                id=p.payment_id, kind=p.kind.value, book=p.book_id, iss=p.payer.issuer, sub=p.payer.subject,
                amount=p.amount_cents, cur=p.currency, state=p.state.value, intent=p.intent_id,
                key=p.idempotency_key, rid=p.request_id,
            )

    def update_payment(self, payment_id: str, state: PaymentState, *, intent_id: str | None = None,
                       reason: str | None = None, synced: bool = True,
                       only_from: tuple[PaymentState, ...] = ()) -> bool:
        with self.pool.connection() as c:  # one statement: its own transaction
            return _update_payment(c, payment_id, state, intent_id=intent_id, reason=reason, synced=synced,
                                   only_from=only_from)

    def get_payment(self, payment_id: str) -> Payment | None:
        with self.pool.connection() as c:
            rows = c.run(f"SELECT {_PAYMENT} FROM payments WHERE payment_id = CAST(:id AS uuid)", id=payment_id)
        return _payment(rows[0]) if rows else None

    def payment_by_intent(self, intent_id: str) -> Payment | None:
        with self.pool.connection() as c:
            rows = c.run(f"SELECT {_PAYMENT} FROM payments WHERE intent_id = :i", i=intent_id)
        return _payment(rows[0]) if rows else None

    # -- the moves -----------------------------------------------------------------
    def open_loan(self, book_id: str, borrower: User, payment_id: str, due_at: datetime) -> Loan:
        loan_id = str(uuid.uuid4())
        with _refusals(), self.pool.transaction() as c:
            _move_book(c, book_id, BookStatus.AVAILABLE, BookStatus.BORROWED)
            c.run(
                "INSERT INTO loans (loan_id, book_id, borrower_iss, borrower_sub, borrower_name, payment_id, due_at) "
                "VALUES (:id, :book, :iss, :sub, :name, :pay, :due)",
                id=loan_id, book=book_id, iss=borrower.issuer, sub=borrower.subject,
                name=borrower.name or borrower.handle, pay=payment_id, due=due_at,
            )
            _attach_payment(c, payment_id, "loan_id", loan_id)
            rows = c.run(f"SELECT {_LOAN} FROM loans l JOIN books b USING (book_id) WHERE l.loan_id = :id", id=loan_id)
        return _loan(rows[0])

    def close_loan(self, book_id: str, caller: User) -> Loan:
        with self.pool.transaction() as c:
            rows = c.run(
                "SELECT loan_id::text, borrower_iss, borrower_sub FROM loans "
                "WHERE book_id = CAST(:b AS uuid) AND returned_at IS NULL FOR UPDATE", b=book_id)
            if not rows:
                raise NotOnLoan("This book is not on loan.")
            loan_id, iss, sub = rows[0]
            if (iss, sub) != (caller.issuer, caller.subject) and not caller.is_librarian:
                raise NotYourLoan("Only the borrower or a librarian may return this loan.")
            c.run("UPDATE loans SET returned_at = now(), closed_reason = 'returned' WHERE loan_id = CAST(:id AS uuid)",
                  id=loan_id)
            _move_book(c, book_id, BookStatus.BORROWED, BookStatus.AVAILABLE)
            rows = c.run(f"SELECT {_LOAN} FROM loans l JOIN books b USING (book_id) WHERE l.loan_id = CAST(:id AS uuid)",
                         id=loan_id)
        return _loan(rows[0])

    def record_sale(self, book_id: str, buyer: User, payment_id: str) -> Purchase:
        purchase_id = str(uuid.uuid4())
        with _refusals(), self.pool.transaction() as c:
            _move_book(c, book_id, BookStatus.AVAILABLE, BookStatus.SOLD)
            c.run(
                "INSERT INTO purchases (purchase_id, book_id, buyer_iss, buyer_sub, payment_id) "
                "VALUES (:id, :book, :iss, :sub, :pay)",
                id=purchase_id, book=book_id, iss=buyer.issuer, sub=buyer.subject, pay=payment_id)
            _attach_payment(c, payment_id, "purchase_id", purchase_id)
            rows = c.run(f"SELECT {_PURCHASE} FROM purchases p JOIN books b USING (book_id) WHERE p.purchase_id = :id",
                         id=purchase_id)
        return _purchase(rows[0])

    def loans_of(self, user: User) -> list[Loan]:
        with self.pool.connection() as c:
            rows = c.run(f"SELECT {_LOAN} FROM loans l JOIN books b USING (book_id) WHERE l.borrower_iss = :iss "
                         f"AND l.borrower_sub = :sub ORDER BY l.borrowed_at DESC LIMIT 500",
                         iss=user.issuer, sub=user.subject)
        return [_loan(r) for r in rows]

    def purchases_of(self, user: User) -> list[Purchase]:
        with self.pool.connection() as c:
            rows = c.run(f"SELECT {_PURCHASE} FROM purchases p JOIN books b USING (book_id) WHERE p.buyer_iss = :iss "
                         f"AND p.buyer_sub = :sub ORDER BY p.purchased_at DESC LIMIT 500",
                         iss=user.issuer, sub=user.subject)
        return [_purchase(r) for r in rows]

    def open_loans(self) -> list[Loan]:
        with self.pool.connection() as c:
            rows = c.run(f"SELECT {_LOAN} FROM loans l JOIN books b USING (book_id) WHERE l.returned_at IS NULL "
                         f"ORDER BY l.due_at LIMIT 1000")
        return [_loan(r) for r in rows]

    # -- reconcile -------------------------------------------------------------------
    def payments_to_settle(self, older_than_seconds: float) -> list[str]:
        with self.pool.connection() as c:
            rows = c.run(
                f"SELECT payment_id::text FROM payments p WHERE p.updated_at <= now() - make_interval(secs => :age) "
                f"AND {_UNSETTLED} AND {_DUE} ORDER BY p.updated_at LIMIT 1000", age=float(older_than_seconds))
        return [r[0] for r in rows]

    @contextmanager
    def settling(self, payment_id: str, *, only_unsettled: bool = True) -> Iterator[_Settlement | None]:
        key = f"settling:{payment_id}"
        # Re-check under the lock: another settler may have finished this payment since it was listed.
        guard = f" AND {_UNSETTLED}" if only_unsettled else ""
        with self.pool.transaction() as c:
            # Held by the session, so across the commits _Settlement.mark makes between steps
            # (the row lock is not): no other settler starts on a payment one is half-way through.
            if not c.run("SELECT pg_try_advisory_lock(hashtext(:k))", k=key)[0][0]:
                yield None
                return
            try:
                rows = c.run(f"SELECT {_PAYMENT} FROM payments p WHERE payment_id = CAST(:id AS uuid){guard} "
                             f"FOR UPDATE SKIP LOCKED", id=payment_id)
                settlement = _Settlement(c, _payment(rows[0])) if rows else None
                yield settlement
                if settlement is not None:
                    settlement.record_event()  # nothing was marked: the event is seen with this commit
            except BaseException:
                with contextlib.suppress(Exception):
                    c.run("ROLLBACK")
                    c.run("SELECT pg_advisory_unlock(hashtext(:k))", k=key)
                raise
            c.run("SELECT pg_advisory_unlock(hashtext(:k))", k=key)

    def defer_settling(self, payment_id: str, error: str, *, first_delay_seconds: float,
                       max_delay_seconds: float) -> int:
        with self.pool.connection() as c:  # one statement: its own transaction
            rows = c.run(
                "UPDATE payments SET settle_attempts = settle_attempts + 1, settle_error = left(:e, 500), "
                "settle_after = now() + make_interval(secs => least(:max, :first * power(2, settle_attempts))) "
                "WHERE payment_id = CAST(:id AS uuid) RETURNING settle_attempts",
                id=payment_id, e=error, first=float(first_delay_seconds), max=float(max_delay_seconds))
        return int(rows[0][0]) if rows else 0

    # -- idempotency -----------------------------------------------------------------
    def claim_idempotency_key(self, user: User, key: str, fingerprint: str,
                              stale_after_seconds: float) -> IdempotencyClaim:
        with self.pool.transaction() as c:
            inserted = c.run(
                "INSERT INTO idempotency_keys (user_iss, user_sub, key, fingerprint) VALUES (:iss, :sub, :key, :fp) "
                "ON CONFLICT DO NOTHING RETURNING 1", iss=user.issuer, sub=user.subject, key=key, fp=fingerprint)
            if inserted:
                return IdempotencyClaim(True, fingerprint)
            # A crashed first attempt leaves its key in progress; after a while a retry may take it over.
            taken = c.run(
                "UPDATE idempotency_keys SET created_at = now() WHERE user_iss = :iss AND user_sub = :sub AND key = :key "
                "AND fingerprint = :fp AND finished_at IS NULL AND created_at < now() - make_interval(secs => :age) "
                "RETURNING 1", iss=user.issuer, sub=user.subject, key=key, fp=fingerprint, age=float(stale_after_seconds))
            if taken:
                return IdempotencyClaim(True, fingerprint)
            rows = c.run("SELECT fingerprint, status_code, response_body, content_type FROM idempotency_keys "
                         "WHERE user_iss = :iss AND user_sub = :sub AND key = :key",
                         iss=user.issuer, sub=user.subject, key=key)
        if not rows:  # released between our insert attempt and the read: try again
            return self.claim_idempotency_key(user, key, fingerprint, stale_after_seconds)
        fp, status, body, ctype = rows[0]
        stored = StoredResponse(status, body, ctype) if status is not None else None
        return IdempotencyClaim(False, fp, stored)

    def finish_idempotency_key(self, user: User, key: str, response: StoredResponse) -> None:
        with self.pool.connection() as c:  # one statement: its own transaction
            c.run("UPDATE idempotency_keys SET status_code = :s, response_body = :b, content_type = :t, "
                  "finished_at = now() WHERE user_iss = :iss AND user_sub = :sub AND key = :key",
                  s=response.status, b=response.body, t=response.content_type, iss=user.issuer,
                  sub=user.subject, key=key)

    def release_idempotency_key(self, user: User, key: str) -> None:
        with self.pool.connection() as c:  # one statement: its own transaction
            c.run("DELETE FROM idempotency_keys WHERE user_iss = :iss AND user_sub = :sub AND key = :key "
                  "AND finished_at IS NULL", iss=user.issuer, sub=user.subject, key=key)

    # -- jobs & retention --------------------------------------------------------------
    @contextmanager
    def job_turn(self, job: str) -> Iterator[_JobTurn | None]:
        # A connection of its own, outside the pool: the lock is the session's for the whole run, and a
        # pool of one (Lambda) stays free for the job's own statements. A process that dies drops it.
        with self.pool.dedicated(statement_timeout_ms=5000, lock_timeout_ms=2000, purpose=f"job {job}") as c:
            if not c.run("SELECT pg_try_advisory_lock(:ns, hashtext(:job))", ns=_JOB_LOCKS, job=job)[0][0]:
                yield None
                return
            try:
                rows = c.run("SELECT last_finished_at FROM job_runs WHERE job = :job", job=job)
                yield _JobTurn(c, job, rows[0][0] if rows else None)
            finally:
                with contextlib.suppress(Exception):
                    c.run("SELECT pg_advisory_unlock(:ns, hashtext(:job))", ns=_JOB_LOCKS, job=job)

    def purge(self, *, keys_finished_before: datetime, events_received_before: datetime, limit: int) -> Purged:
        with self.pool.connection() as c:  # each DELETE one statement: its own transaction
            keys = c.run(
                "DELETE FROM idempotency_keys WHERE (user_iss, user_sub, key) IN ("
                " SELECT user_iss, user_sub, key FROM idempotency_keys WHERE finished_at < :before"
                " LIMIT :n FOR UPDATE SKIP LOCKED) RETURNING 1", before=keys_finished_before, n=int(limit))
            events = c.run(
                "DELETE FROM processor_events WHERE event_id IN ("
                " SELECT event_id FROM processor_events WHERE received_at < :before"
                " LIMIT :n FOR UPDATE SKIP LOCKED) RETURNING 1", before=events_received_before, n=int(limit))
        return Purged(len(keys), len(events))

    # -- webhooks & health -------------------------------------------------------------
    def remember_event(self, event_id: str) -> bool:
        with self.pool.connection() as c:  # one statement: its own transaction
            return bool(c.run("INSERT INTO processor_events (event_id) VALUES (:id) ON CONFLICT DO NOTHING RETURNING 1",
                              id=event_id))

    def ping(self) -> None:
        with self.pool.connection() as c:
            c.run("SELECT 1")

    def schema_current(self) -> bool:
        return not pending_migrations(self.pool)


class _JobTurn:
    def __init__(self, conn: pg8000.native.Connection, job: str, last_finished: datetime | None) -> None:
        self._c, self._job, self.last_finished = conn, job, last_finished

    def finished(self, summary: str) -> None:
        self._c.run("INSERT INTO job_runs (job, last_finished_at, last_summary) VALUES (:job, now(), left(:s, 2000)) "
                    "ON CONFLICT (job) DO UPDATE SET last_finished_at = excluded.last_finished_at, "
                    "last_summary = excluded.last_summary", job=self._job, s=summary)


class _Settlement:
    def __init__(self, conn: pg8000.native.Connection, payment: Payment) -> None:
        self._c = conn
        self.payment = payment
        self.loan_open = bool(payment.loan_id) and bool(conn.run(
            "SELECT 1 FROM loans WHERE loan_id = CAST(:id AS uuid) AND closed_reason IS DISTINCT FROM 'reversed'",
            id=payment.loan_id))
        self.sale_standing = bool(payment.purchase_id) and bool(conn.run(
            "SELECT 1 FROM purchases WHERE purchase_id = CAST(:id AS uuid) AND reversed_at IS NULL",
            id=payment.purchase_id))
        self._event_id: str | None = None

    def mark(self, state: PaymentState, *, reason: str | None = None, synced: bool = True) -> None:
        _update_payment(self._c, self.payment.payment_id, state, reason=reason, synced=synced)
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


def _move_book(c: pg8000.native.Connection, book_id: str, from_status: BookStatus, to_status: BookStatus) -> None:
    """The race is decided here: only one caller can move the book out of `from_status`."""
    rows = c.run("UPDATE books SET status = :to WHERE book_id = CAST(:id AS uuid) AND status = :from RETURNING 1",
                 id=book_id, to=to_status.value, **{"from": from_status.value})
    if not rows:
        if to_status is BookStatus.AVAILABLE:
            raise NotOnLoan("This book is not on loan.")
        raise BookUnavailable(_TAKEN)


def _attach_payment(c: pg8000.native.Connection, payment_id: str, column: str, target_id: str) -> None:
    rows = c.run(f"UPDATE payments SET {column} = CAST(:t AS uuid), updated_at = now() "
                 f"WHERE payment_id = CAST(:p AS uuid) AND state = 'authorized' AND loan_id IS NULL "
                 f"AND purchase_id IS NULL RETURNING 1", t=target_id, p=payment_id)
    if not rows:
        raise PaymentReleased(_RELEASED)


def _update_payment(c: pg8000.native.Connection, payment_id: str, state: PaymentState, *,
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
        "failure_reason = coalesce(:reason, failure_reason), processor_synced = :synced, updated_at = now() "
        f"WHERE payment_id = CAST(:id AS uuid){guard} RETURNING 1", **params)
    return bool(rows)
