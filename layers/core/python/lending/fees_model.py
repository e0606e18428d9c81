"""Fees and the patron's account: plain, immutable data with no I/O (see lending.fees for the rules)."""

from __future__ import annotations

import enum
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from lending.circulation_model import Hold
from lending.model import Loan, Patron


class ChargeKind(str, enum.Enum):
    LATE_FEE = "late_fee"  # debits are positive
    LOST_ITEM = "lost_item"
    LOST_ITEM_REVERSED = "lost_item_reversed"  # credits are negative
    PAYMENT = "payment"
    WAIVER = "waiver"


DEBITS = (ChargeKind.LATE_FEE, ChargeKind.LOST_ITEM)


@dataclass(frozen=True)
class FeePolicy:
    """LATE_FEE_CENTS per started FEE_INTERVAL past the due date, nothing within FEE_GRACE_PERIOD."""

    late_fee_cents: int = 25
    interval: timedelta = timedelta(days=1)
    grace: timedelta = timedelta(days=1)


@dataclass(frozen=True)
class BlockPolicy:
    """Over MAX_BALANCE_CENTS, or a loan overdue by more than BLOCK_OVERDUE_AFTER: no borrowing, renewing or holds."""

    max_balance_cents: int = 1000
    overdue_after: timedelta = timedelta(days=14)


@dataclass(frozen=True)
class Charge:
    charge_id: str
    patron_iss: str
    patron_sub: str
    kind: ChargeKind
    amount_cents: int
    currency: str
    created_at: datetime
    loan_id: str | None = None
    title: str | None = None
    payment_id: str | None = None
    cancels: str | None = None
    reason: str | None = None
    librarian: str | None = None  # the waiving librarian's name (or subject)
    counts: bool = True  # False for a payment charge whose payment no longer holds the money


@dataclass(frozen=True)
class Account:
    """The balance (summed by the store from the charges that count), the charges, newest first, and
    the due date of the patron's most overdue open loan (for blocks)."""

    balance_cents: int
    currency: str
    charges: list[Charge] = field(default_factory=list)
    oldest_due_at: datetime | None = None


@dataclass(frozen=True)
class PatronFile:
    """What a librarian sees of one patron."""

    patron: Patron
    loans: list[Loan]
    holds: list[Hold]
    account: Account


@dataclass(frozen=True)
class Lost:
    """One loan the overdue job declared lost, with the charges it added."""

    loan_id: str
    book_id: str
    lost_charge_id: str
    late_fee_charge_id: str | None
