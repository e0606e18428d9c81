"""What fees need from the store (part of lending.ports.LendingStore; PostgreSQL in
lending_postgres/fees.py, the fake in tests/support/fake_fees.py, one contract suite for both)."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Protocol

from lending.fees_model import Account, Charge, FeePolicy, Lost
from lending.model import Book, Patron, User


class FeeStore(Protocol):
    def account(self, patron: User, currency: str) -> Account:
        """The patron's balance in `currency` (the sum of the charges that count), all their charges,
        newest first, and the earliest due date among their open loans."""
        ...

    def standing(self, patron: User, currency: str) -> Account:
        """What a block is decided on, in one look (a borrow's hot path): `account()`'s balance and
        earliest due date, without the charges."""
        ...

    def standing_and_copy(self, patron: User, currency: str, book_id: str) -> tuple[Account, Book | None]:
        """`standing()` and the copy `book_id` (None if there is none), in one look: what a borrow of a copy
        checks before any card is touched."""
        ...

    def record_fee_payment(self, payment_id: str, patron: User) -> Charge:
        """Credit the authorised fee payment to the patron's account, under the patron's lock.

        Raises BalanceChanged unless the payment's amount is the balance now (a second payment, or a new
        fee, got there first), PaymentReleased if the payment is no longer authorised; nothing is written then.
        """
        ...

    def fee_payment_charge(self, payment_id: str) -> Charge | None: ...

    def waive_charge(self, patron_id: str, charge_id: str, librarian: User, reason: str) -> Charge:
        """Undo a debit (what is left of it to pay, at most the balance). Raises PatronNotFound,
        ChargeNotFound or WaiverRefused (already_waived, not_waivable)."""
        ...

    def declare_lost(self, *, now: datetime, lost_after: timedelta, fees: FeePolicy) -> list[Lost]:
        """Every open loan due before now - lost_after: the copy becomes lost, the late fee so far and a
        lost-item charge (the copy's price) are added, the loan is closed as lost. One transaction per loan."""
        ...

    def search_patrons(self, text: str | None, limit: int) -> list[Patron]: ...

    def patron_by_id(self, patron_id: str) -> Patron | None: ...
