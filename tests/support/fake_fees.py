"""The fake store's fees (mixed into FakeStore first, so its close_loan and renew_loan add the charges),
as lending_postgres/fees.py and fee_moves.py keep them; the same contract tests hold both."""

from __future__ import annotations

import uuid
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from typing import Any

from lending.errors import BalanceChanged, ChargeNotFound, NotOnLoan, NotYourLoan, PatronNotFound, PaymentReleased, WaiverRefused
from lending.fees import late_fee
from lending.fees_model import DEBITS, Account, Charge, ChargeKind, FeePolicy, Lost
from lending.model import Book, BookStatus, Loan, Patron, Payment, PaymentKind, PaymentState, User

HOLDING = (PaymentState.AUTHORIZED, PaymentState.CAPTURED)


def _me(u: User) -> tuple[str, str]:
    return (u.issuer, u.subject)


class FakeFees:
    _lock: Any
    books: dict[str, Any]
    loans: dict[str, Loan]
    payments: dict[str, Payment]
    patrons: dict[tuple[str, str], Patron]

    def _fees_init(self) -> None:
        self.charges: list[Charge] = []
        self._late: dict[str, tuple[datetime, datetime, str | None]] = {}  # charge -> (from, until, renewal)
        self.found: dict[str, datetime] = {}  # lost loan id -> when its copy came back

    def _counts(self, c: Charge) -> bool:
        return c.kind is not ChargeKind.PAYMENT or self.payments[c.payment_id or ""].state in HOLDING

    def _balance(self, iss: str, sub: str, currency: str) -> int:
        return sum(c.amount_cents for c in self.charges if (c.patron_iss, c.patron_sub) == (iss, sub)
                   and c.currency == currency and self._counts(c))

    def _add(self, iss: str, sub: str, kind: ChargeKind, amount: int, currency: str, *, now: datetime | None = None,
             **extra: Any) -> Charge:
        loan = self.loans.get(extra.get("loan_id") or "")
        charge = Charge(str(uuid.uuid4()), iss, sub, kind, amount, currency, now or datetime.now(UTC),
                        title=loan.title if loan else None, **extra)
        self.charges.append(charge)
        return charge

    def _late_fee(self, loan: Loan, due: datetime, until: datetime, fees: FeePolicy, renewal: str | None) -> None:
        earlier = [c for c in self.charges if c.loan_id == loan.loan_id and c.kind is ChargeKind.LATE_FEE]
        start = max([due, *(self._late[c.charge_id][1] for c in earlier)])
        book = self.books[loan.book_id]
        amount = late_fee(start, until, fees, book.price_cents - sum(c.amount_cents for c in earlier))
        if amount > 0:
            c = self._add(loan.borrower.issuer, loan.borrower.subject, ChargeKind.LATE_FEE, amount, book.currency,
                          loan_id=loan.loan_id)
            self._late[c.charge_id] = (start, until, renewal)

    def account(self, patron: User, currency: str) -> Account:
        with self._lock:
            mine = [replace(c, counts=self._counts(c)) for c in reversed(self.charges)
                    if (c.patron_iss, c.patron_sub) == _me(patron)]
            due = [x.due_at for x in self.loans.values() if x.returned_at is None and _me(x.borrower) == _me(patron)]
            return Account(self._balance(patron.issuer, patron.subject, currency), currency, mine, min(due, default=None))

    def standing(self, patron: User, currency: str) -> Account:
        whole = self.account(patron, currency)
        return Account(whole.balance_cents, currency, [], whole.oldest_due_at)

    def standing_and_copy(self, patron: User, currency: str, book_id: str) -> tuple[Account, Book | None]:
        return self.standing(patron, currency), self.get_book(book_id)  # type: ignore[attr-defined]

    def fee_payment_charge(self, payment_id: str) -> Charge | None:
        return next((c for c in self.charges if c.payment_id == payment_id), None)

    def record_fee_payment(self, payment_id: str, patron: User) -> Charge:
        with self._lock:
            p = self.payments.get(payment_id)
            if p is None or p.kind is not PaymentKind.FEE_PAYMENT or _me(p.payer) != _me(patron) \
                    or p.state is not PaymentState.AUTHORIZED:
                raise PaymentReleased("The payment authorisation was released before it could be credited.")
            if self.fee_payment_charge(payment_id) or self._balance(*_me(patron), p.currency) != p.amount_cents:
                raise BalanceChanged("Your balance changed while the card was authorised.", reason="balance_changed")
            return self._add(patron.issuer, patron.subject, ChargeKind.PAYMENT, -p.amount_cents, p.currency,
                             payment_id=payment_id)

    def waive_charge(self, patron_id: str, charge_id: str, librarian: User, reason: str) -> Charge:
        with self._lock:
            patron = next((p for p in self.patrons.values() if p.patron_id == patron_id), None)
            if patron is None:
                raise PatronNotFound(f"No patron with id {patron_id}.")
            charge = next((c for c in self.charges if c.charge_id == charge_id
                           and (c.patron_iss, c.patron_sub) == (patron.issuer, patron.subject)), None)
            if charge is None:
                raise ChargeNotFound(f"This patron has no charge {charge_id}.")
            undo = [c for c in self.charges if c.cancels == charge_id]
            if any(c.kind is ChargeKind.WAIVER for c in undo):
                raise WaiverRefused("This charge was waived already.", reason="already_waived")
            left = min(charge.amount_cents + sum(c.amount_cents for c in undo),
                       self._balance(patron.issuer, patron.subject, charge.currency))
            if charge.kind not in DEBITS or left <= 0:
                raise WaiverRefused("Only a late fee or a lost-item charge still owed can be waived.",
                                    reason="not_waivable")
            return self._add(patron.issuer, patron.subject, ChargeKind.WAIVER, -left, charge.currency,
                             cancels=charge_id, reason=reason, librarian=librarian.name or librarian.subject)

    def declare_lost(self, *, now: datetime, lost_after: timedelta, fees: FeePolicy) -> list[Lost]:
        with self._lock:
            lost = []
            for loan in sorted(self.loans.values(), key=lambda x: x.due_at):
                if loan.returned_at is not None or loan.due_at >= now - lost_after:
                    continue
                before = len(self.charges)
                self._late_fee(loan, loan.due_at, now, fees, None)
                late = self.charges[-1].charge_id if len(self.charges) > before else None
                self.loans[loan.loan_id] = replace(loan, returned_at=max(now, loan.borrowed_at), closed_reason="lost")
                self._set(loan.book_id, BookStatus.LOST)  # type: ignore[attr-defined]
                book = self.books[loan.book_id]
                charge = self._add(loan.borrower.issuer, loan.borrower.subject, ChargeKind.LOST_ITEM,
                                   book.price_cents, book.currency, loan_id=loan.loan_id)
                lost.append(Lost(loan.loan_id, loan.book_id, charge.charge_id, late))
            return lost

    def close_loan(self, book_id: str, caller: User, *, now: datetime | None = None,
                   pickup_period: timedelta = timedelta(days=7), fees: FeePolicy | None = None) -> Loan:
        when = now or datetime.now(UTC)
        with self._lock:
            open_loan = next((x for x in self.loans.values() if x.book_id == book_id and x.returned_at is None), None)
            book = self.books.get(book_id)
            if open_loan is None and book is not None and book.status is BookStatus.LOST:
                return self._found(book_id, caller, when, pickup_period)
            closed: Loan = super().close_loan(book_id, caller, now=now, pickup_period=pickup_period)  # type: ignore[misc]
            if fees is not None:
                self._late_fee(closed, closed.due_at, when, fees, None)
            return closed

    def _found(self, book_id: str, caller: User, when: datetime, pickup_period: timedelta) -> Loan:
        lost = [x for x in self.loans.values() if x.book_id == book_id and x.closed_reason == "lost"
                and x.loan_id not in self.found]
        if not lost:
            raise NotOnLoan("This book is not on loan.")
        loan = max(lost, key=lambda x: x.returned_at or when)
        if _me(loan.borrower) != _me(caller) and not caller.is_librarian:
            raise NotYourLoan("Only the borrower or a librarian may return this loan.")
        self.found[loan.loan_id] = when
        charge = next(c for c in self.charges if c.loan_id == loan.loan_id and c.kind is ChargeKind.LOST_ITEM)
        left = charge.amount_cents + sum(c.amount_cents for c in self.charges if c.cancels == charge.charge_id)
        if left > 0:
            self._add(loan.borrower.issuer, loan.borrower.subject, ChargeKind.LOST_ITEM_REVERSED, -left,
                      charge.currency, loan_id=loan.loan_id, cancels=charge.charge_id)
        self._shelve(book_id, self.books[book_id].title_id or "", now=when,  # type: ignore[attr-defined]
                     pickup_period=pickup_period)
        return loan

    def renew_loan(self, loan_id: str, patron: User, payment_id: str, *, now: datetime, loan_period: timedelta,
                   max_renewals: int, fees: FeePolicy | None = None) -> Loan:
        with self._lock:
            before = self.loans.get(loan_id)
            renewed: Loan = super().renew_loan(loan_id, patron, payment_id, now=now,  # type: ignore[misc]
                                               loan_period=loan_period, max_renewals=max_renewals)
            if fees is not None and before is not None:
                self._late_fee(renewed, before.due_at, now, fees, self.payments[payment_id].renewal_id)
            return renewed

    def _fee_paid(self, p: Payment) -> bool:
        return p.kind is PaymentKind.FEE_PAYMENT and self.fee_payment_charge(p.payment_id) is not None

    def search_patrons(self, text: str | None, limit: int) -> list[Patron]:
        wanted = (text or "").lower()
        found = [p for p in self.patrons.values()
                 if wanted in f"{p.name or ''} {p.email or ''} {p.subject}".lower()]
        return sorted(found, key=lambda p: (p.name is None, p.name or "", p.subject))[:limit]

    def patron_by_id(self, patron_id: str) -> Patron | None:
        return next((p for p in self.patrons.values() if p.patron_id == patron_id), None)
