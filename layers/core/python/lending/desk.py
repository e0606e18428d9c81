"""The librarian's desk: catalogue edits, check-in by barcode and refunds (issue 15).

Check-in closes the loan through the patron's own return (`services.return_book`, the store's
`close_loan`), so whatever that applies (the hold shelf for the next in line; late fees once they
exist) applies at the desk too. A refund writes the ledger first (the sale reversed and the payment
`refunded`, not yet synced, in one transaction), then asks the processor through reconcile's own
step for such a row (`reconcile.settle_one`), so a crash between the two is what reconcile repairs.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from lending import reconcile, services
from lending.desk_model import CheckIn, CopyChanges, CopyRecord, NewCopy, NewTitle, Refund, TitleChanges
from lending.desk_ports import DeskStore
from lending.errors import (
    BookNotFound,
    NotAllowed,
    NotOnLoan,
    PaymentProcessorUnavailable,
    RequestInProgress,
)
from lending.fees_model import FeePolicy
from lending.model import BookStatus, User
from lending.ports import LendingStore, PaymentGateway

TO_SHELF, TO_HOLD_SHELF = "to_shelf", "to_hold_shelf"


def _librarian(caller: User) -> None:
    if not caller.is_librarian:
        raise NotAllowed("Only librarians may do this.")


def create_title(desk: DeskStore, caller: User, new: NewTitle) -> str:
    _librarian(caller)
    return desk.create_title(new)


def edit_title(desk: DeskStore, caller: User, title_id: str, changes: TitleChanges) -> None:
    _librarian(caller)
    desk.edit_title(title_id, changes)


def add_copies(desk: DeskStore, caller: User, title_id: str, copies: list[NewCopy]) -> list[CopyRecord]:
    _librarian(caller)
    return desk.add_copies(title_id, copies)


def edit_copy(desk: DeskStore, caller: User, book_id: str, changes: CopyChanges) -> CopyRecord:
    _librarian(caller)
    return desk.edit_copy(book_id, changes)


def withdraw_copy(desk: DeskStore, caller: User, book_id: str, reason: str) -> CopyRecord:
    _librarian(caller)
    return desk.withdraw_copy(book_id, reason)


def check_in(store: LendingStore, desk: DeskStore, caller: User, barcode: str, *, now: datetime,
             pickup_period: timedelta, fees: FeePolicy | None = None) -> CheckIn:
    """Close the copy's open loan, whoever has it, and say where the copy goes now.

    A copy declared lost that comes back is checked in too: its lost charge is reversed (lending.fees)."""
    _librarian(caller)
    copy = desk.copy_by_barcode(barcode)
    if copy is None:
        raise BookNotFound("No copy has this barcode.")
    try:
        if copy.status not in (BookStatus.BORROWED, BookStatus.LOST):
            raise NotOnLoan("This copy is not on loan.")
        loan = services.return_book(store, caller, copy.book_id, now=now, pickup_period=pickup_period, fees=fees)
    except NotOnLoan as exc:
        status = (desk.copy_of(copy.book_id) or copy).status
        raise NotOnLoan(f"This copy is not on loan (it is {status.value}).", book_status=status.value,
                        reason="not_on_loan") from exc
    waiting = desk.waiting_on_shelf(copy.book_id)
    if waiting is None:
        return CheckIn(loan.loan_id, copy.book_id, copy.barcode, loan.borrower, TO_SHELF)
    patron, until = waiting
    return CheckIn(loan.loan_id, copy.book_id, copy.barcode, loan.borrower, TO_HOLD_SHELF, patron, until)


def refund_sale(store: LendingStore, desk: DeskStore, gateway: PaymentGateway, caller: User, purchase_id: str,
                reason: str, *, now: datetime, pickup_period: timedelta) -> Refund:
    """Reverse a sale and refund its payment once, however many librarians ask at once."""
    _librarian(caller)
    payment = desk.reverse_sale_for_refund(purchase_id, caller, reason, now=now, pickup_period=pickup_period)
    try:
        reconcile.settle_one(store, gateway, payment.payment_id)
    except (RequestInProgress, PaymentProcessorUnavailable):
        pass  # the ledger says refunded, not yet synced: reconcile tells the processor
    after = store.get_payment(payment.payment_id) or payment
    return Refund(purchase_id, after.payment_id, str(after.book_id or payment.book_id), after.amount_cents,
                  after.currency, reason, after.state.value, now, after.processor_synced)
