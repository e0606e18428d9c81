"""The librarian's desk: what the catalogue edits, the check-in, the refund and an import carry."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from lending.model import BookStatus, User


@dataclass(frozen=True)
class NewTitle:
    isbn: str  # ISBN-13, checked
    title: str
    author: str
    publication_year: int | None = None
    language: str | None = None
    description: str | None = None


@dataclass(frozen=True)
class TitleChanges:
    """Only the fields given change (None: left as it is)."""

    isbn: str | None = None
    title: str | None = None
    author: str | None = None
    publication_year: int | None = None
    language: str | None = None
    description: str | None = None


@dataclass(frozen=True)
class NewCopy:
    price_cents: int
    borrow_fee_cents: int
    currency: str
    barcode: str | None = None  # None: one is generated


@dataclass(frozen=True)
class CopyChanges:
    price_cents: int | None = None
    borrow_fee_cents: int | None = None
    barcode: str | None = None


@dataclass(frozen=True)
class CopyRecord:
    """A copy as the desk sees it: with its barcode, and why it was withdrawn."""

    book_id: str
    title_id: str
    barcode: str
    price_cents: int
    borrow_fee_cents: int
    currency: str
    status: BookStatus
    withdrawn_reason: str | None = None
    withdrawn_at: datetime | None = None


@dataclass(frozen=True)
class CheckIn:
    """What the librarian does with a copy just checked in: `to_shelf`, or `to_hold_shelf` for `patron`."""

    loan_id: str
    book_id: str
    barcode: str
    borrower: User
    action: str
    patron: User | None = None
    ready_until: datetime | None = None


@dataclass(frozen=True)
class Refund:
    purchase_id: str
    payment_id: str
    book_id: str
    amount_cents: int
    currency: str
    reason: str
    state: str  # the payment's: refunded (processor_synced once Stripe has refunded it)
    refunded_at: datetime | None
    settled: bool  # False: the processor has not refunded it yet; reconcile finishes it


# -- import ---------------------------------------------------------------------------------------
@dataclass(frozen=True)
class ImportedCopy:
    barcode: str
    price_cents: int | None = None
    borrow_fee_cents: int | None = None
    currency: str | None = None


@dataclass(frozen=True)
class ImportRecord:
    """One record of a catalogue file as read (MARC, MARCXML or CSV), not yet checked.

    `number` is the record's place in the file (MARC, MARCXML) or its line (CSV); `error` says why
    the reader could not read it at all (truncated, a wrong leader, a bad encoding ...).
    """

    number: int
    isbn: str | None = None
    title: str | None = None
    author: str | None = None
    publication_year: int | None = None
    language: str | None = None
    copies: tuple[ImportedCopy, ...] = ()
    error: str | None = None


@dataclass(frozen=True)
class CheckedRecord:
    number: int
    title: NewTitle
    copies: tuple[NewCopy, ...]


@dataclass
class ImportReport:
    created: int = 0
    updated: int = 0
    unchanged: int = 0
    rejected: list[tuple[int, str]] = field(default_factory=list)  # (record or line number, reason)

    def count(self, outcome: str) -> None:
        setattr(self, outcome, getattr(self, outcome) + 1)

    @property
    def records(self) -> int:
        return self.created + self.updated + self.unchanged + len(self.rejected)
