"""LendingStore on PostgreSQL. Each public method is one transaction.

The catalogue of titles, holds and renewals live in their own modules (catalogue.py, holds.py,
renewals.py), mixed into PostgresStore; rows.py holds what they share.
"""

from __future__ import annotations

import contextlib
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import pg8000.native

from lending.model import Book, BookQuery, BookStatus, Loan, NewBook, Page, Payment, PaymentState, Purchase, User
from lending.ports import IdempotencyClaim, StoredResponse
from lending_postgres.catalogue import TitleCatalogue
from lending_postgres.circulation import CirculationMoves
from lending_postgres.connection import ConnectionPool
from lending_postgres.desk import DeskCatalogue
from lending_postgres.fees import FeeRecords
from lending_postgres.holds import HoldQueries
from lending_postgres.imports import CatalogueImports
from lending_postgres.lookups import LedgerLookups
from lending_postgres.migrate import pending_migrations
from lending_postgres.notices import NoticeRecords
from lending_postgres.patrons import PatronRecords
from lending_postgres.refunds import SaleRefunds
from lending_postgres.refusals import refusals
from lending_postgres.renewals import RenewalQueries
from lending_postgres.replica import ReplicaPool
from lending_postgres.reports import DeskReports
from lending_postgres.rows import (
    BOOK,
    BOOK_BY_ID,
    DUE,
    LOAN,
    PAYMENT,
    PURCHASE,
    UNSETTLED,
    attach_payment,
    book_row,
    loan_row,
    move_book,
    payment_row,
    purchase_row,
    update_payment_row,
)
from lending_postgres.settlement import Settlement
from lending_postgres.upkeep import Upkeep


class PostgresStore(CirculationMoves, HoldQueries, RenewalQueries, TitleCatalogue, LedgerLookups, PatronRecords,
                    FeeRecords, Upkeep, NoticeRecords, DeskCatalogue, SaleRefunds, DeskReports, CatalogueImports):
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
            # A copy of a new ISBN makes its title; a copy of a known one joins it.
            c.run("INSERT INTO titles (isbn, title, author, publication_year, language, description) "
                  "VALUES (:isbn, :title, :author, :year, :lang, :desc) ON CONFLICT (isbn) DO NOTHING",
                  isbn=new.isbn, title=new.title, author=new.author, year=new.publication_year, lang=new.language,
                  desc=new.description)
            rows = c.run(
                f"INSERT INTO books (book_id, isbn, title, author, price_cents, borrow_fee_cents, currency, title_id) "
                f"VALUES (:id, :isbn, :title, :author, :price, :fee, :cur, "
                f"(SELECT title_id FROM titles WHERE isbn = :isbn)) RETURNING {BOOK}",
                id=str(uuid.uuid4()), isbn=new.isbn, title=new.title, author=new.author, price=new.price_cents,
                fee=new.borrow_fee_cents, cur=new.currency,
            )
        return book_row(rows[0])

    def get_book(self, book_id: str) -> Book | None:
        def find(c: pg8000.native.Connection) -> Any:
            return c.run(BOOK_BY_ID, id=book_id)

        rows = self.reader.read(find)
        if not rows and self.reader is not self.pool:  # added a moment ago and not yet replayed on the replica
            rows = self.pool.read(find)
        return book_row(rows[0]) if rows else None

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
        else:
            where.append("status <> 'withdrawn'")  # a withdrawn copy leaves the search (issue 15)
        clause = " AND ".join(where)
        def search(c: pg8000.native.Connection) -> tuple[Any, Any]:
            rows = c.run(
                f"SELECT {BOOK}, count(*) OVER () FROM books WHERE {clause} "
                f"ORDER BY title, book_id LIMIT :limit OFFSET :offset", **params)
            total = rows[0][-1] if rows else c.run(f"SELECT count(*) FROM books WHERE {clause}",
                                                   **{k: v for k, v in params.items() if k not in ("limit", "offset")})[0][0]
            return rows, total

        rows, total = self.reader.read(search)
        return Page([book_row(r[:-1]) for r in rows], total, query.limit, query.offset)

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
            return update_payment_row(c, payment_id, state, intent_id=intent_id, reason=reason, synced=synced,
                                   only_from=only_from)

    def get_payment(self, payment_id: str) -> Payment | None:
        with self.pool.connection() as c:
            rows = c.run(f"SELECT {PAYMENT} FROM payments WHERE payment_id = CAST(:id AS uuid)", id=payment_id)
        return payment_row(rows[0]) if rows else None

    def payment_by_intent(self, intent_id: str) -> Payment | None:
        with self.pool.connection() as c:
            rows = c.run(f"SELECT {PAYMENT} FROM payments WHERE intent_id = :i", i=intent_id)
        return payment_row(rows[0]) if rows else None

    # -- the moves -----------------------------------------------------------------
    def record_sale(self, book_id: str, buyer: User, payment_id: str) -> Purchase:
        purchase_id = str(uuid.uuid4())
        with refusals(), self.pool.transaction() as c:
            move_book(c, book_id, BookStatus.AVAILABLE, BookStatus.SOLD)
            # A constraint's refusal is translated by its name (refusals): a second sale is BookUnavailable,
            # a payment that is not in the ledger PaymentReleased, a book that is gone BookNotFound.
            c.run("INSERT INTO purchases (purchase_id, book_id, buyer_iss, buyer_sub, payment_id) "
                  "VALUES (:id, :book, :iss, :sub, :pay)",
                  id=purchase_id, book=book_id, iss=buyer.issuer, sub=buyer.subject, pay=payment_id)
            attach_payment(c, payment_id, "purchase_id", purchase_id)
            rows = c.run(f"SELECT {PURCHASE} FROM purchases p JOIN books b USING (book_id) WHERE p.purchase_id = :id",
                         id=purchase_id)
        return purchase_row(rows[0])

    def loans_of(self, user: User) -> list[Loan]:
        with self.pool.connection() as c:
            rows = c.run(f"SELECT {LOAN} FROM loans l JOIN books b USING (book_id) WHERE l.borrower_iss = :iss "
                         f"AND l.borrower_sub = :sub ORDER BY l.borrowed_at DESC LIMIT 500",
                         iss=user.issuer, sub=user.subject)
        return [loan_row(r) for r in rows]

    def purchases_of(self, user: User) -> list[Purchase]:
        with self.pool.connection() as c:
            rows = c.run(f"SELECT {PURCHASE} FROM purchases p JOIN books b USING (book_id) WHERE p.buyer_iss = :iss "
                         f"AND p.buyer_sub = :sub ORDER BY p.purchased_at DESC LIMIT 500",
                         iss=user.issuer, sub=user.subject)
        return [purchase_row(r) for r in rows]

    def open_loans(self) -> list[Loan]:
        with self.pool.connection() as c:
            rows = c.run(f"SELECT {LOAN} FROM loans l JOIN books b USING (book_id) WHERE l.returned_at IS NULL "
                         f"ORDER BY l.due_at LIMIT 1000")
        return [loan_row(r) for r in rows]

    # -- reconcile -------------------------------------------------------------------
    def payments_to_settle(self, older_than_seconds: float) -> list[str]:
        with self.pool.connection() as c:
            rows = c.run(
                f"SELECT payment_id::text FROM payments p WHERE p.updated_at <= now() - make_interval(secs => :age) "
                f"AND {UNSETTLED} AND {DUE} ORDER BY p.updated_at LIMIT 1000", age=float(older_than_seconds))
        return [r[0] for r in rows]

    @contextmanager
    def settling(self, payment_id: str, *, only_unsettled: bool = True) -> Iterator[Settlement | None]:
        key = f"settling:{payment_id}"
        # Re-check under the lock: another settler may have finished this payment since it was listed.
        guard = f" AND {UNSETTLED}" if only_unsettled else ""
        with self.pool.transaction() as c:
            # Held by the session, so across the commits Settlement.mark makes between steps
            # (the row lock is not): no other settler starts on a payment one is half-way through.
            if not c.run("SELECT pg_try_advisory_lock(hashtext(:k))", k=key)[0][0]:
                yield None
                return
            try:
                rows = c.run(f"SELECT {PAYMENT} FROM payments p WHERE payment_id = CAST(:id AS uuid){guard} "
                             f"FOR UPDATE SKIP LOCKED", id=payment_id)
                settlement = Settlement(c, payment_row(rows[0])) if rows else None
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
        # Each statement is its own transaction: a new key (the usual case) costs one round trip, and
        # under READ COMMITTED a transaction around the three would add nothing but its COMMIT.
        with self.pool.connection() as c:
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
