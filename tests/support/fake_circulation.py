"""The fake store's circulation: titles, the hold shelf, holds and renewals (mixed into FakeStore).

It keeps the same rules as lending_postgres (circulation.py, holds.py, renewals.py, catalogue.py)
and passes the same contract tests (tests/contract/test_circulation_contract.py). Its search is a
plain one: words as prefixes, accents folded, ISBN with or without hyphens, a close name.
"""

from __future__ import annotations

import difflib
import itertools
import re
import threading
import unicodedata
import uuid
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta

from lending.catalogue_model import Copy, FacetCount, Facets, Title, TitleDetail, TitlePage, TitleQuery, TitleSummary
from lending.circulation_model import ACTIVE_HOLDS, Hold, HoldStatus, ShelfMove
from lending.errors import (
    BookNotFound,
    BookUnavailable,
    HeldForAnother,
    HoldNotFound,
    HoldRefused,
    LoanNotFound,
    NoCopyAvailable,
    NotOnLoan,
    NotYourLoan,
    PaymentReleased,
    RenewalRefused,
    TitleNotFound,
)
from lending.model import Book, BookStatus, Loan, NewBook, Payment, PaymentState, User


def fold(text: str) -> str:
    return "".join(c for c in unicodedata.normalize("NFKD", text) if not unicodedata.combining(c)).lower()


@dataclass(frozen=True)
class Renewal:
    renewal_id: str
    loan_id: str
    previous_due_at: datetime
    due_at: datetime
    reversed: bool = False


def _me(u: User) -> tuple[str, str]:
    return (u.issuer, u.subject)


class FakeCirculation:
    _lock: threading.RLock
    books: dict[str, Book]
    loans: dict[str, Loan]
    payments: dict[str, Payment]
    history: list[tuple[str, BookStatus]]

    def _circulation_init(self) -> None:
        self.titles: dict[str, Title] = {}
        self.holds: dict[str, Hold] = {}
        self.hold_seq: dict[str, int] = {}
        self.renewals: dict[str, Renewal] = {}
        self._seq = itertools.count(1)

    # -- catalogue ----------------------------------------------------------------------
    def _title_for(self, new: NewBook) -> str:
        found = next((t for t in self.titles.values() if t.isbn == new.isbn), None)
        if found is None:
            found = Title(str(uuid.uuid4()), new.isbn, new.title, new.author, new.publication_year, new.language,
                          new.description)
            self.titles[found.title_id] = found
        return found.title_id

    def _copies(self, title_id: str) -> list[Book]:
        return sorted((b for b in self.books.values() if b.title_id == title_id), key=lambda b: (b.created_at, b.book_id))

    def _summary(self, t: Title) -> TitleSummary:
        copies = [b for b in self._copies(t.title_id) if b.status is not BookStatus.WITHDRAWN]
        return TitleSummary(t, len(copies), sum(b.status is BookStatus.AVAILABLE for b in copies),
                            sum(h.status is HoldStatus.WAITING for h in self.holds.values() if h.title_id == t.title_id))

    def _rank(self, t: Title, text: str) -> float | None:
        if not text:
            return 0.0
        words, names = re.findall(r"[^\W_]+", fold(text)), fold(f"{t.title} {t.author}")
        isbn = re.sub(r"[ -]", "", text).upper()
        if isbn == t.isbn:
            return 10.0
        mine = re.findall(r"[^\W_]+", names) + [t.isbn.lower()]
        if words and all(any(m.startswith(w) for m in mine) for w in words):
            return 1.0
        if len(text) >= 4 and max(difflib.SequenceMatcher(None, fold(text), m).ratio() for m in mine) >= 0.8:
            return 0.5
        return None

    def search_titles(self, query: TitleQuery) -> TitlePage:
        text = (query.text or "").strip()
        ranked = [(r, t) for t in self.titles.values() if (r := self._rank(t, text)) is not None]
        rows = [(r, t, self._summary(t).copies_available > 0) for r, t in ranked]

        def ok(t: Title, avail: bool, *, author: bool = True, language: bool = True, available: bool = True) -> bool:
            return ((not author or not query.author or fold(t.author) == fold(query.author))
                    and (not language or not query.language or t.language == query.language.lower())
                    and (not available or query.available is None or avail == query.available))

        hits = [(r, t) for r, t, a in rows if ok(t, a)]
        hits.sort(key=lambda x: (-x[0], x[1].title_id) if text else (x[1].title, x[1].title_id))
        page = [self._summary(t) for _, t in hits[query.offset:query.offset + query.limit]]

        def counts(values: list[str]) -> list[FacetCount]:
            tally: dict[str, int] = {}
            for v in values:
                tally[v] = tally.get(v, 0) + 1
            return [FacetCount(v, n) for v, n in sorted(tally.items(), key=lambda x: (-x[1], x[0]))]

        facets = Facets(counts([t.author for _, t, a in rows if ok(t, a, author=False)])[:10],
                        counts([t.language for _, t, a in rows if ok(t, a, language=False) and t.language])[:20],
                        sum(1 for _, t, a in rows if a and ok(t, a, available=False)),
                        sum(1 for _, t, a in rows if not a and ok(t, a, available=False)))
        return TitlePage(page, len(hits), query.limit, query.offset, facets)

    def get_title(self, title_id: str) -> TitleDetail | None:
        t = self.titles.get(title_id)
        if t is None:
            return None
        due = {x.book_id: x.due_at for x in self.loans.values() if x.returned_at is None}
        return TitleDetail(self._summary(t), [Copy(b.book_id, b.status, b.price_cents, b.borrow_fee_cents, b.currency,
                                                   due.get(b.book_id))
                                              for b in self._copies(title_id) if b.status is not BookStatus.WITHDRAWN])

    # -- lending and returning ------------------------------------------------------------
    def _ready_hold(self, book_id: str) -> Hold | None:
        return next((h for h in self.holds.values() if h.book_id == book_id and h.status is HoldStatus.READY), None)

    def _waiting_for(self, title_id: str, patron: User) -> str | None:
        return next((h.book_id for h in self.holds.values() if h.title_id == title_id and h.status is HoldStatus.READY
                     and _me(h.patron) == _me(patron)), None)

    def copy_to_lend(self, title_id: str, borrower: User) -> Book | None:
        mine = self._waiting_for(title_id, borrower)
        if mine:
            return self.books[mine]
        return next((b for b in self._copies(title_id) if b.status is BookStatus.AVAILABLE), None)

    def holder_of(self, book_id: str) -> User | None:
        hold = self._ready_hold(book_id)
        return hold.patron if hold else None

    def _set(self, book_id: str, status: BookStatus) -> None:
        if self.books[book_id].status is not status:
            self.books[book_id] = replace(self.books[book_id], status=status)
            self.history.append((book_id, status))

    def _lend(self, book_id: str, borrower: User, payment_id: str, due_at: datetime) -> Loan:
        book = self.books.get(book_id)
        held = self._ready_hold(book_id)
        if held and _me(held.patron) != _me(borrower):
            raise HeldForAnother("This copy waits on the hold shelf for another patron.",
                                 book_status="on_hold_shelf", reason="on_hold_shelf")
        wanted = BookStatus.ON_HOLD_SHELF if held else BookStatus.AVAILABLE
        if book is None or book.status is not wanted:
            raise BookUnavailable("Someone else has just borrowed or bought this book.")
        p = self.payments.get(payment_id)
        if p is None or p.state is not PaymentState.AUTHORIZED or p.loan_id or p.purchase_id or p.renewal_id:
            raise PaymentReleased("The payment authorisation was released before the book could be reserved.")
        self._set(book_id, BookStatus.BORROWED)
        loan = Loan(str(uuid.uuid4()), book_id, borrower, datetime.now(UTC), due_at, payment_id=payment_id,
                    title=book.title)
        self.loans[loan.loan_id] = loan
        self.payments[payment_id] = replace(p, loan_id=loan.loan_id, book_id=book_id)
        if held:
            self.holds[held.hold_id] = replace(held, status=HoldStatus.FULFILLED)
        return loan

    def open_loan(self, book_id: str, borrower: User, payment_id: str, due_at: datetime) -> Loan:
        with self._lock:
            return self._lend(book_id, borrower, payment_id, due_at)

    def lend_copy_of_title(self, title_id: str, borrower: User, payment_id: str, due_at: datetime) -> Loan:
        with self._lock:
            p = self.payments.get(payment_id)
            book_id = self._waiting_for(title_id, borrower) or next(
                (b.book_id for b in self._copies(title_id) if b.status is BookStatus.AVAILABLE and p is not None
                 and b.borrow_fee_cents == p.amount_cents and b.currency == p.currency), None)
            if book_id is None:
                raise NoCopyAvailable("Every copy of this title was taken a moment ago; place a hold to be next.",
                                      reason="no_copy_available", place_hold=f"/titles/{title_id}/holds")
            return self._lend(book_id, borrower, payment_id, due_at)

    def _shelve(self, book_id: str, title_id: str, *, now: datetime, pickup_period: timedelta) -> str | None:
        waiting = sorted((h for h in self.holds.values() if h.title_id == title_id and h.status is HoldStatus.WAITING),
                         key=lambda h: self.hold_seq[h.hold_id])
        if not waiting:
            self._set(book_id, BookStatus.AVAILABLE)
            return None
        self._set(book_id, BookStatus.ON_HOLD_SHELF)
        self.holds[waiting[0].hold_id] = replace(waiting[0], status=HoldStatus.READY, book_id=book_id,
                                                 ready_until=now + pickup_period)
        self.write_notice(kind="hold_ready", patron_iss=waiting[0].patron.issuer,  # type: ignore[attr-defined]
                          patron_sub=waiting[0].patron.subject, hold_id=waiting[0].hold_id,
                          details={"title": self.books[book_id].title, "ready_until": (now + pickup_period).isoformat(),
                                   "book_id": book_id})
        return waiting[0].hold_id

    def close_loan(self, book_id: str, caller: User, *, now: datetime | None = None,
                   pickup_period: timedelta = timedelta(days=7)) -> Loan:
        with self._lock:
            if book_id not in self.books:
                raise BookNotFound.with_id(book_id)
            loan = next((x for x in self.loans.values() if x.book_id == book_id and x.returned_at is None), None)
            if loan is None:
                raise NotOnLoan("This book is not on loan.")
            if _me(loan.borrower) != _me(caller) and not caller.is_librarian:
                raise NotYourLoan("Only the borrower or a librarian may return this loan.")
            closed = replace(loan, returned_at=datetime.now(UTC), closed_reason="returned")
            self.loans[loan.loan_id] = closed
            title_id = self.books[book_id].title_id or ""
            self._shelve(book_id, title_id, now=now or datetime.now(UTC), pickup_period=pickup_period)
            return closed

    # -- holds ------------------------------------------------------------------------------
    def _positioned(self, h: Hold) -> Hold:
        if h.status is not HoldStatus.WAITING:
            return replace(h, position=None, title=self.titles[h.title_id].title)
        ahead = sum(1 for o in self.holds.values() if o.title_id == h.title_id and o.status is HoldStatus.WAITING
                    and self.hold_seq[o.hold_id] <= self.hold_seq[h.hold_id])
        return replace(h, position=ahead, title=self.titles[h.title_id].title)

    def place_hold(self, title_id: str, patron: User, *, now: datetime, max_holds: int) -> Hold:
        with self._lock:
            if title_id not in self.titles:
                raise TitleNotFound(f"No title with id {title_id}.")
            active = [h for h in self.holds.values() if _me(h.patron) == _me(patron) and h.status in ACTIVE_HOLDS]
            if any(h.title_id == title_id for h in active):
                raise HoldRefused("You already have a hold on this title.", reason="duplicate_hold")
            copies = {b.book_id for b in self._copies(title_id)}
            if any(x.book_id in copies and x.returned_at is None and _me(x.borrower) == _me(patron)
                   for x in self.loans.values()):
                raise HoldRefused("You have a copy of this title on loan.", reason="already_on_loan")
            if any(self.books[b].status is BookStatus.AVAILABLE for b in copies):
                raise HoldRefused("A copy of this title is on the shelf: borrow it instead.", reason="copy_available")
            if len(active) >= max_holds:
                raise HoldRefused(f"You may have at most {max_holds} holds at once.", reason="hold_limit")
            hold = Hold(str(uuid.uuid4()), title_id, replace(patron, name=patron.name or patron.handle),
                        HoldStatus.WAITING, now)
            self.holds[hold.hold_id], self.hold_seq[hold.hold_id] = hold, next(self._seq)
            return self._positioned(hold)

    def holds_of(self, patron: User) -> list[Hold]:
        mine = [h for h in self.holds.values() if _me(h.patron) == _me(patron)]
        return [self._positioned(h) for h in sorted(mine, key=lambda h: -self.hold_seq[h.hold_id])]

    def title_holds(self, title_id: str) -> list[Hold]:
        active = [h for h in self.holds.values() if h.title_id == title_id and h.status in ACTIVE_HOLDS]
        active.sort(key=lambda h: (h.status is not HoldStatus.READY, self.hold_seq[h.hold_id]))
        return [self._positioned(h) for h in active]

    def _close_hold(self, hold: Hold, to: HoldStatus, *, now: datetime, pickup_period: timedelta) -> ShelfMove | None:
        if hold.status not in ACTIVE_HOLDS:
            return None
        self.holds[hold.hold_id] = replace(hold, status=to)
        if hold.status is not HoldStatus.READY or hold.book_id is None:
            return None
        following = self._shelve(hold.book_id, hold.title_id, now=now, pickup_period=pickup_period)
        return ShelfMove(hold.hold_id, hold.book_id, following)

    def cancel_hold(self, hold_id: str, patron: User, *, now: datetime, pickup_period: timedelta) -> None:
        with self._lock:
            hold = self.holds.get(hold_id)
            if hold is None or _me(hold.patron) != _me(patron):
                raise HoldNotFound(f"You have no hold with id {hold_id}.")
            self._close_hold(hold, HoldStatus.CANCELLED, now=now, pickup_period=pickup_period)

    def expire_ready_holds(self, *, now: datetime, pickup_period: timedelta) -> list[ShelfMove]:
        with self._lock:
            due = sorted((h for h in self.holds.values() if h.status is HoldStatus.READY and h.ready_until
                          and h.ready_until <= now), key=lambda h: h.ready_until or now)
            moves = [self._close_hold(self.holds[h.hold_id], HoldStatus.EXPIRED, now=now, pickup_period=pickup_period)
                     for h in due]
            return [m for m in moves if m is not None]

    # -- renewals ---------------------------------------------------------------------------
    def check_renewal(self, loan_id: str, patron: User, *, max_renewals: int) -> Loan:
        loan = self.loans.get(loan_id)
        if loan is None or _me(loan.borrower) != _me(patron):
            raise LoanNotFound("You have no loan with this id.")
        if loan.returned_at is not None:
            raise RenewalRefused("This loan is closed: there is nothing to renew.", reason="not_on_loan")
        if loan.renewals >= max_renewals:
            raise RenewalRefused(f"A loan may be renewed at most {max_renewals} times.", reason="renewal_limit")
        title_id = self.books[loan.book_id].title_id
        waiting = any(h.title_id == title_id and h.status is HoldStatus.WAITING and _me(h.patron) != _me(patron)
                      for h in self.holds.values())
        if waiting and not any(b.status is BookStatus.AVAILABLE for b in self._copies(title_id or "")):
            raise RenewalRefused("Another patron is waiting for this title: please return it by its due date.",
                                 reason="on_hold")
        return loan

    def renew_loan(self, loan_id: str, patron: User, payment_id: str, *, now: datetime, loan_period: timedelta,
                   max_renewals: int) -> Loan:
        with self._lock:
            loan = self.check_renewal(loan_id, patron, max_renewals=max_renewals)
            p = self.payments.get(payment_id)
            if p is None or p.state is not PaymentState.AUTHORIZED or p.loan_id or p.purchase_id or p.renewal_id:
                raise PaymentReleased("The payment authorisation was released before the loan could be renewed.")
            renewed = replace(loan, due_at=max(now, loan.due_at) + loan_period, renewals=loan.renewals + 1)
            renewal = Renewal(str(uuid.uuid4()), loan_id, loan.due_at, renewed.due_at)
            self.renewals[renewal.renewal_id] = renewal
            self.loans[loan_id] = renewed
            self.payments[payment_id] = replace(p, renewal_id=renewal.renewal_id)
            return renewed

    def reverse_renewal(self, renewal_id: str) -> None:
        r = self.renewals[renewal_id]
        self.renewals[renewal_id] = replace(r, reversed=True)
        loan = self.loans[r.loan_id]
        self.loans[r.loan_id] = replace(loan, renewals=loan.renewals - 1,
                                        due_at=r.previous_due_at if loan.due_at == r.due_at else loan.due_at)
