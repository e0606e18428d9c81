"""Use cases of circulation: titles, borrowing by title, holds, renewals, and expiring holds.

Every date comes from the injected clock. The store decides every race in one transaction,
serialised per title (a row lock on the title): what is checked here first is only a courtesy,
so that a plainly refused request never touches a card.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta
from typing import TYPE_CHECKING

from lending import payment_flow
from lending.circulation_model import Hold, ShelfMove
from lending.clock import Clock
from lending.errors import (
    BookUnavailable,
    LoanNotFound,
    NoCopyAvailable,
    NotAllowed,
    RenewalRefused,
    TitleNotFound,
)
from lending.fees_model import FeePolicy
from lending.model import Loan, Payment, PaymentKind, User
from lending.ports import LendingStore, PaymentGateway
from lending.services import Borrowed

if TYPE_CHECKING:  # the catalogue's classes load with the catalogue's first use (lending.catalogue_model)
    from lending.catalogue_model import TitleDetail, TitlePage, TitleQuery

DEFAULT_PICKUP_PERIOD = timedelta(days=7)


@dataclass(frozen=True)
class RenewedLoan:
    loan: Loan
    payment: Payment


@dataclass(frozen=True)
class ExpiryReport:
    expired: int
    passed_on: int  # copies now waiting for the next patron in line
    back_on_shelf: int  # copies available again

    @classmethod
    def of(cls, moves: list[ShelfMove]) -> ExpiryReport:
        passed = sum(1 for m in moves if m.next_hold_id)
        return cls(len(moves), passed, len(moves) - passed)


def search_titles(store: LendingStore, query: TitleQuery) -> TitlePage:
    return store.search_titles(query)


def find_title(store: LendingStore, title_id: str) -> TitleDetail:
    found = store.get_title(title_id)
    if found is None:
        raise TitleNotFound(f"No title with id {title_id}.")
    return found


def no_copy(title_id: str) -> NoCopyAvailable:
    return NoCopyAvailable("No copy of this title is free; place a hold to be next in line.",
                           reason="no_copy_available", place_hold=f"/titles/{title_id}/holds")


def borrow_title(
    store: LendingStore, gateway: PaymentGateway, borrower: User, title_id: str, payment_method: str, *,
    clock: Clock, loan_period: timedelta, idempotency_key: str | None = None, request_id: str | None = None,
) -> Borrowed:
    """Lend any free copy of the title (the copy waiting for this patron on the hold shelf first)."""
    find_title(store, title_id)
    candidate = store.copy_to_lend(title_id, borrower)
    if candidate is None:
        raise no_copy(title_id)
    payment = payment_flow.new_payment(
        PaymentKind.BORROW_FEE, candidate, borrower, idempotency_key=idempotency_key, request_id=request_id)
    payment = payment_flow.authorize(store, gateway, payment, payment_method)
    try:
        loan = store.lend_copy_of_title(title_id, borrower, payment.payment_id, clock.now() + loan_period)
    except (NoCopyAvailable, BookUnavailable):
        payment_flow.release(store, gateway, payment, "lost the race for the title's last copy")
        raise
    return Borrowed(loan, payment_flow.capture(store, gateway, payment))


def place_hold(store: LendingStore, patron: User, title_id: str, *, clock: Clock, max_holds: int) -> Hold:
    find_title(store, title_id)
    return store.place_hold(title_id, patron, now=clock.now(), max_holds=max_holds)


def holds_of(store: LendingStore, patron: User) -> list[Hold]:
    return store.holds_of(patron)


def cancel_hold(store: LendingStore, patron: User, hold_id: str, *, clock: Clock,
                pickup_period: timedelta) -> None:
    """Cancel one's own hold; a copy waiting for it goes at once to the next in line, or back to the shelf."""
    store.cancel_hold(hold_id, patron, now=clock.now(), pickup_period=pickup_period)


def title_queue(store: LendingStore, librarian: User, title_id: str) -> list[Hold]:
    if not librarian.is_librarian:
        raise NotAllowed("Only librarians may see a title's queue.")
    find_title(store, title_id)
    return store.title_holds(title_id)


def renew_loan(
    store: LendingStore, gateway: PaymentGateway, patron: User, loan_id: str, payment_method: str, *,
    clock: Clock, loan_period: timedelta, max_renewals: int, idempotency_key: str | None = None,
    request_id: str | None = None, fees: FeePolicy | None = None,
) -> RenewedLoan:
    """Charge the borrow fee again and extend the loan to max(now, due) + the loan period.

    With `fees`, an overdue loan's late fee so far goes on the account in the renewal's transaction."""
    loan = store.check_renewal(loan_id, patron, max_renewals=max_renewals)
    book = store.get_book(loan.book_id)
    assert book is not None  # a loan's copy is never deleted
    payment = payment_flow.new_payment(
        PaymentKind.RENEWAL, book, patron, idempotency_key=idempotency_key, request_id=request_id)
    payment = payment_flow.authorize(store, gateway, payment, payment_method)
    try:
        renewed = store.renew_loan(loan_id, patron, payment.payment_id, now=clock.now(), loan_period=loan_period,
                                   max_renewals=max_renewals, fees=fees)
    except (RenewalRefused, LoanNotFound):
        payment_flow.release(store, gateway, payment, "renewal refused")
        raise
    return RenewedLoan(renewed, payment_flow.capture(store, gateway, payment))


def expire_ready_holds(store: LendingStore, clock: Clock,
                       pickup_period: timedelta = DEFAULT_PICKUP_PERIOD) -> ExpiryReport:
    """Expire every ready hold not picked up by its ready_until (the scheduled job calls this).

    Each copy goes to the next patron in line (ready until now + pickup_period) or back to the shelf.
    """
    return ExpiryReport.of(store.expire_ready_holds(now=clock.now(), pickup_period=pickup_period))
