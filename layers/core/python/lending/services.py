"""One function per use case. Handlers call these; these call the ports."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from lending import payment_flow, resume
from lending.errors import BookNotFound, BookUnavailable, HeldForAnother, NotAllowed
from lending.fees_model import FeePolicy
from lending.model import (
    Book,
    BookQuery,
    BookStatus,
    Loan,
    NewBook,
    Page,
    Payment,
    PaymentKind,
    Purchase,
    User,
)
from lending.ports import LendingStore, PaymentGateway


@dataclass(frozen=True)
class Borrowed:
    loan: Loan
    payment: Payment


@dataclass(frozen=True)
class Bought:
    purchase: Purchase
    payment: Payment


def add_book(store: LendingStore, librarian: User, new: NewBook) -> Book:
    _require_librarian(librarian)
    return store.add_book(new)


def find_book(store: LendingStore, book_id: str) -> Book:
    book = store.get_book(book_id)
    if book is None:
        raise BookNotFound.with_id(book_id)
    return book


def search_books(store: LendingStore, query: BookQuery) -> Page:
    return store.list_books(query)


def borrow_book(
    store: LendingStore, gateway: PaymentGateway, borrower: User, book_id: str,
    payment_method: str, *, loan_days: int = 21, idempotency_key: str | None = None,
    request_id: str | None = None, now: datetime | None = None, loan_period: timedelta | None = None,
    copy: Book | None = None,
) -> Borrowed:
    """`copy`: the copy as the caller read it a moment ago (lending.fees.ensure_not_blocked), if it did."""
    earlier = resume.earlier_outcome(
        store, gateway, borrower, idempotency_key, PaymentKind.BORROW_FEE, book_id,
        lambda p: next((loan for loan in store.loans_of(borrower) if loan.loan_id == p.loan_id), None))
    if earlier is not None:
        return Borrowed(*earlier)
    book = _lendable(store, book_id, borrower, copy)
    payment = payment_flow.new_payment(
        PaymentKind.BORROW_FEE, book, borrower, idempotency_key=idempotency_key, request_id=request_id)
    payment = payment_flow.authorize(store, gateway, payment, payment_method)
    due_at = (now or datetime.now(UTC)) + (loan_period or timedelta(days=loan_days))
    try:
        loan = store.open_loan(book_id, borrower, payment.payment_id, due_at)
    except BookUnavailable:
        payment_flow.release(store, gateway, payment, "lost the race for the book")
        raise
    return Borrowed(loan, payment_flow.capture(store, gateway, payment))


def buy_book(
    store: LendingStore, gateway: PaymentGateway, buyer: User, book_id: str,
    payment_method: str, *, idempotency_key: str | None = None, request_id: str | None = None,
) -> Bought:
    earlier = resume.earlier_outcome(
        store, gateway, buyer, idempotency_key, PaymentKind.PURCHASE, book_id,
        lambda p: next((s for s in store.purchases_of(buyer) if s.purchase_id == p.purchase_id and s.reversed_at is None),
                       None))
    if earlier is not None:
        return Bought(*earlier)
    book = _available(store, book_id)
    payment = payment_flow.new_payment(
        PaymentKind.PURCHASE, book, buyer, idempotency_key=idempotency_key, request_id=request_id)
    payment = payment_flow.authorize(store, gateway, payment, payment_method)
    try:
        purchase = store.record_sale(book_id, buyer, payment.payment_id)
    except BookUnavailable:
        payment_flow.release(store, gateway, payment, "lost the race for the book")
        raise
    return Bought(purchase, payment_flow.capture(store, gateway, payment))


def return_book(store: LendingStore, caller: User, book_id: str, *, now: datetime | None = None,
                pickup_period: timedelta = timedelta(days=7), fees: FeePolicy | None = None) -> Loan:
    """Close the loan; the copy goes to the hold shelf for the first patron waiting for its title.

    With `fees`, a late return adds its late fee to the account and a lost copy's charge is reversed
    (lending.fees), in the same transaction; returning never fails for money reasons."""
    return store.close_loan(book_id, caller, now=now or datetime.now(UTC), pickup_period=pickup_period, fees=fees)


def loans_of(store: LendingStore, user: User) -> list[Loan]:
    return store.loans_of(user)


def purchases_of(store: LendingStore, user: User) -> list[Purchase]:
    return store.purchases_of(user)


def books_on_loan(store: LendingStore, librarian: User) -> list[Loan]:
    _require_librarian(librarian)
    return store.open_loans()


def _available(store: LendingStore, book_id: str) -> Book:
    """Refuse early, before any card is touched, when the copy is plainly taken.

    This is only a courtesy: the conditional update in the store decides races.
    """
    book = find_book(store, book_id)
    if book.status is not BookStatus.AVAILABLE:
        raise BookUnavailable(f"The book is {book.status.value}.", book_status=book.status.value)
    return book


def _lendable(store: LendingStore, book_id: str, borrower: User, copy: Book | None = None) -> Book:
    """As _available, but a copy on the hold shelf may be lent to the patron it waits for."""
    book = copy if copy is not None and copy.book_id == book_id else find_book(store, book_id)
    if book.status is BookStatus.ON_HOLD_SHELF:
        holder = store.holder_of(book_id)
        if holder is None or (holder.issuer, holder.subject) != (borrower.issuer, borrower.subject):
            raise HeldForAnother("This copy waits on the hold shelf for another patron.",
                                 book_status=book.status.value, reason="on_hold_shelf")
        return book
    if book.status is not BookStatus.AVAILABLE:
        raise BookUnavailable(f"The book is {book.status.value}.", book_status=book.status.value)
    return book


def _require_librarian(user: User) -> None:
    if not user.is_librarian:
        raise NotAllowed("Only librarians may do this.")
