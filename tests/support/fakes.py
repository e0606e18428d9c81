"""In-memory fakes of the store and the payment gateway, for unit tests of the domain.

Both pass the same contract tests as their real adapters (tests/contract), so they
cannot drift from PostgreSQL and Stripe's behaviour that the domain relies on.
"""

from __future__ import annotations

import threading
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import replace
from datetime import UTC, datetime, timedelta

from lending.errors import (
    BookUnavailable,
    NotOnLoan,
    PaymentReleased,
)
from lending.model import (
    Book,
    BookQuery,
    BookStatus,
    Loan,
    NewBook,
    Page,
    Patron,
    Payment,
    PaymentKind,
    PaymentState,
    Purchase,
    User,
)
from lending.ports import IdempotencyClaim, Purged, StoredResponse
from tests.support.fake_circulation import FakeCirculation
from tests.support.fake_fees import FakeFees
from tests.support.fake_gateway import DECLINING, FakeGateway
from tests.support.fake_notices import FakeNotices
from tests.support.fake_patrons import FakePatrons

__all__ = ["DECLINING", "FakeGateway", "FakeStore"]


def _now() -> datetime:
    return datetime.now(UTC)


class FakeStore(FakeFees, FakeCirculation, FakePatrons, FakeNotices):
    def __init__(self) -> None:
        self._lock = threading.RLock()
        self.books: dict[str, Book] = {}
        self.history: list[tuple[str, BookStatus]] = []
        self.loans: dict[str, Loan] = {}
        self.purchases: dict[str, Purchase] = {}
        self.payments: dict[str, Payment] = {}
        self.updated: dict[str, datetime] = {}
        self.keys: dict[tuple[str, str, str], tuple[str, StoredResponse | None, datetime]] = {}
        self.events: dict[str, datetime] = {}  # processor event id -> when it was seen
        self.finished: dict[tuple[str, str, str], datetime] = {}  # idempotency key -> when it finished
        self.job_locks: set[str] = set()
        self.job_runs: dict[str, tuple[datetime, str]] = {}  # job -> (last finished, its summary)
        self.locked: set[str] = set()
        self.deferred: dict[str, tuple[int, datetime]] = {}  # payment id -> (failed attempts, not before)
        self.intent_checked: set[str] = set()
        self._circulation_init()
        self._fees_init()
        self.patrons: dict[tuple[str, str], Patron] = {}
        self._notices_init()

    def add_book(self, new: NewBook) -> Book:
        with self._lock:
            book = Book(str(uuid.uuid4()), new.isbn, new.title, new.author, new.price_cents, new.borrow_fee_cents,
                        new.currency, BookStatus.AVAILABLE, _now(), self._title_for(new))
            self.books[book.book_id] = book
            self.history.append((book.book_id, book.status))
            return book

    def get_book(self, book_id: str) -> Book | None:
        return self.books.get(book_id)

    def list_books(self, query: BookQuery) -> Page:
        text = (query.text or "").lower()
        found = [b for b in self.books.values()
                 if (not text or text in b.title.lower() or text in b.author.lower() or text.replace("-", "") == b.isbn.lower())
                 and (b.status is query.status or query.status is None and b.status.value != "withdrawn")]
        found.sort(key=lambda b: (b.title, b.book_id))
        return Page(found[query.offset:query.offset + query.limit], len(found), query.limit, query.offset)

    def record_payment(self, payment: Payment) -> None:
        with self._lock:
            self.payments[payment.payment_id] = payment
            self.updated[payment.payment_id] = _now()

    def update_payment(self, payment_id: str, state: PaymentState, *, intent_id: str | None = None,
                       reason: str | None = None, synced: bool = True, only_from: tuple[PaymentState, ...] = ()) -> bool:
        with self._lock:
            p = self.payments.get(payment_id)
            if p is None or (only_from and p.state not in only_from):
                return False
            self.payments[payment_id] = replace(p, state=state, intent_id=intent_id or p.intent_id,
                                                failure_reason=reason or p.failure_reason, processor_synced=synced)
            self.updated[payment_id] = _now()
            return True

    def get_payment(self, payment_id: str) -> Payment | None:
        return self.payments.get(payment_id)

    def payment_by_intent(self, intent_id: str) -> Payment | None:
        return next((p for p in self.payments.values() if p.intent_id == intent_id), None)

    def payment_for_key(self, payer: User, key: str, kind: PaymentKind) -> Payment | None:
        with self._lock:  # insertion order is creation order
            found = [p for p in self.payments.values() if (p.payer.issuer, p.payer.subject) == (payer.issuer, payer.subject) and p.idempotency_key == key and p.kind is kind]
        return found[-1] if found else None

    def _move(self, book_id: str, src: BookStatus, dst: BookStatus) -> None:
        book = self.books.get(book_id)
        if book is None or book.status is not src:
            if dst is BookStatus.AVAILABLE:
                raise NotOnLoan("This book is not on loan.")
            raise BookUnavailable("Someone else has just borrowed or bought this book.")
        self.books[book_id] = replace(book, status=dst)
        self.history.append((book_id, dst))

    def _reserve(self, book_id: str, payment_id: str) -> None:
        """The conditional move's checks, in PostgresStore's order: the book first, then the payment."""
        book = self.books.get(book_id)
        if book is None or book.status is not BookStatus.AVAILABLE:
            raise BookUnavailable("Someone else has just borrowed or bought this book.")
        p = self.payments.get(payment_id)
        if p is None or p.state is not PaymentState.AUTHORIZED or p.loan_id or p.purchase_id or p.renewal_id:
            raise PaymentReleased("The payment authorisation was released before the book could be reserved.")

    def record_sale(self, book_id: str, buyer: User, payment_id: str) -> Purchase:
        with self._lock:
            self._reserve(book_id, payment_id)
            self._move(book_id, BookStatus.AVAILABLE, BookStatus.SOLD)
            sale = Purchase(str(uuid.uuid4()), book_id, buyer, _now(), payment_id, title=self.books[book_id].title)
            self.purchases[sale.purchase_id] = sale
            self.payments[payment_id] = replace(self.payments[payment_id], purchase_id=sale.purchase_id)
            return sale

    def loans_of(self, user: User) -> list[Loan]:
        return sorted((x for x in self.loans.values() if (x.borrower.issuer, x.borrower.subject) == (user.issuer, user.subject)),
                      key=lambda x: x.borrowed_at, reverse=True)

    def purchases_of(self, user: User) -> list[Purchase]:
        return sorted((x for x in self.purchases.values() if (x.buyer.issuer, x.buyer.subject) == (user.issuer, user.subject)),
                      key=lambda x: x.purchased_at, reverse=True)

    def open_loans(self) -> list[Loan]:
        return sorted((x for x in self.loans.values() if x.returned_at is None), key=lambda x: x.due_at)

    def _owned(self, p: Payment) -> tuple[bool, bool, bool]:
        loan = self.loans.get(p.loan_id or "")
        sale = self.purchases.get(p.purchase_id or "")
        renewal = self.renewals.get(p.renewal_id or "")
        return (loan is not None and loan.closed_reason != "reversed", sale is not None and sale.reversed_at is None,
                renewal is not None and not renewal.reversed)

    def _unsettled(self, p: Payment) -> bool:
        return (p.state in (PaymentState.PENDING, PaymentState.AUTHORIZED) or not p.processor_synced
                or (p.state is PaymentState.CAPTURED and not any(self._owned(p)) and not self._fee_paid(p))
                or (p.state is PaymentState.FAILED and p.intent_id is not None and p.payment_id not in self.intent_checked))

    def payments_to_settle(self, older_than_seconds: float) -> list[str]:
        now = _now()
        return [p.payment_id for p in self.payments.values()
                if (now - self.updated[p.payment_id]).total_seconds() >= older_than_seconds and self._unsettled(p)
                and self.deferred.get(p.payment_id, (0, now))[1] <= now]

    def defer_settling(self, payment_id: str, error: str, *, first_delay_seconds: float, max_delay_seconds: float) -> int:
        with self._lock:
            if payment_id not in self.payments:
                return 0  # as PostgresStore: no row, nothing counted
            attempts = self.deferred.get(payment_id, (0, _now()))[0]
            delay = min(max_delay_seconds, first_delay_seconds * 2 ** attempts)
            self.deferred[payment_id] = (attempts + 1, _now() + timedelta(seconds=delay))
            return attempts + 1

    @contextmanager
    def settling(self, payment_id: str, *, only_unsettled: bool = True) -> Iterator[_FakeSettlement | None]:
        with self._lock:
            payment = self.payments.get(payment_id)
            if payment_id in self.locked or payment is None or (only_unsettled and not self._unsettled(payment)):
                yield None
                return
            self.locked.add(payment_id)
        try:
            settlement = _FakeSettlement(self, self.payments[payment_id])
            yield settlement
            settlement.record_event()
        finally:
            self.locked.discard(payment_id)

    def claim_idempotency_key(self, user: User, key: str, fingerprint: str,
                              stale_after_seconds: float) -> IdempotencyClaim:
        with self._lock:
            k = (user.issuer, user.subject, key)
            if k not in self.keys:
                self.keys[k] = (fingerprint, None, _now())
                return IdempotencyClaim(True, fingerprint)
            fp, response, started = self.keys[k]
            if fp == fingerprint and response is None and (_now() - started).total_seconds() > stale_after_seconds:
                self.keys[k] = (fp, None, _now())
                return IdempotencyClaim(True, fp)
            return IdempotencyClaim(False, fp, response)

    def finish_idempotency_key(self, user: User, key: str, response: StoredResponse) -> None:
        with self._lock:
            fp, _, started = self.keys[(user.issuer, user.subject, key)]
            self.keys[(user.issuer, user.subject, key)] = (fp, response, started)
            self.finished[(user.issuer, user.subject, key)] = _now()

    def release_idempotency_key(self, user: User, key: str) -> None:
        with self._lock:
            entry = self.keys.get((user.issuer, user.subject, key))
            if entry and entry[1] is None:
                del self.keys[(user.issuer, user.subject, key)]

    def remember_event(self, event_id: str) -> bool:
        with self._lock:
            if event_id in self.events:
                return False
            self.events[event_id] = _now()
            return True

    @contextmanager
    def job_turn(self, job: str) -> Iterator[_FakeJobTurn | None]:
        with self._lock:
            if job in self.job_locks:
                held = False
            else:
                self.job_locks.add(job)
                held = True
        if not held:
            yield None
            return
        try:
            last = self.job_runs.get(job)
            yield _FakeJobTurn(self, job, last[0] if last else None)
        finally:
            self.job_locks.discard(job)

    def purge(self, *, keys_finished_before: datetime, events_received_before: datetime, limit: int) -> Purged:
        with self._lock:
            keys = [k for k, at in self.finished.items() if at < keys_finished_before][:limit]
            for k in keys:
                del self.keys[k], self.finished[k]
            events = [e for e, at in self.events.items() if at < events_received_before][:limit]
            for e in events:
                del self.events[e]
            return Purged(len(keys), len(events))

    def ping(self) -> None:
        return None

    def schema_current(self) -> bool:
        return True


class _FakeSettlement:
    def __init__(self, store: FakeStore, payment: Payment) -> None:
        self._store = store
        self.payment = payment
        self.loan_open, self.sale_standing, self.renewal_standing = store._owned(payment)
        self.fee_paid = store._fee_paid(payment)
        self._event_id: str | None = None

    def mark(self, state: PaymentState, *, reason: str | None = None, synced: bool = True) -> None:
        self._store.update_payment(self.payment.payment_id, state, reason=reason, synced=synced)
        if synced:
            self.record_event()

    def intent_closed(self) -> None:
        self._store.intent_checked.add(self.payment.payment_id)
        self.record_event()

    def remember_event(self, event_id: str) -> bool:
        self._event_id = None if event_id in self._store.events else event_id
        return self._event_id is not None

    def record_event(self) -> None:
        if self._event_id is not None:
            self._store.events[self._event_id] = _now()
            self._event_id = None

    def reverse_loan(self, reason: str) -> None:
        loan = self._store.loans[self.payment.loan_id or ""]
        self._store.loans[loan.loan_id] = replace(loan, returned_at=loan.returned_at or _now(), closed_reason="reversed")
        if self._store.books[loan.book_id].status is BookStatus.BORROWED:
            self._store._move(loan.book_id, BookStatus.BORROWED, BookStatus.AVAILABLE)
        self.loan_open = False

    def reverse_renewal(self, reason: str) -> None:
        self._store.reverse_renewal(self.payment.renewal_id or "")
        self.renewal_standing = False

    def reverse_sale(self, reason: str) -> None:
        sale = self._store.purchases[self.payment.purchase_id or ""]
        self._store.purchases[sale.purchase_id] = replace(sale, reversed_at=_now())
        self._store._move(sale.book_id, BookStatus.SOLD, BookStatus.AVAILABLE)
        self.sale_standing = False


class _FakeJobTurn:
    def __init__(self, store: FakeStore, job: str, last_finished: datetime | None) -> None:
        self._store, self._job, self.last_finished = store, job, last_finished

    def finished(self, summary: str) -> None:
        self._store.job_runs[self._job] = (_now(), summary)
