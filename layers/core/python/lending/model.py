"""Business objects: plain, immutable data with no I/O."""

from __future__ import annotations

import enum
from dataclasses import dataclass, field
from datetime import datetime


class BookStatus(str, enum.Enum):
    AVAILABLE = "available"
    BORROWED = "borrowed"
    ON_HOLD_SHELF = "on_hold_shelf"  # waits for the patron first in its title's queue
    SOLD = "sold"
    LOST = "lost"
    WITHDRAWN = "withdrawn"


class PaymentKind(str, enum.Enum):
    BORROW_FEE = "borrow_fee"
    PURCHASE = "purchase"
    RENEWAL = "renewal"


class PaymentState(str, enum.Enum):
    PENDING = "pending"
    AUTHORIZED = "authorized"
    CAPTURED = "captured"
    CANCELED = "canceled"
    REFUNDED = "refunded"
    FAILED = "failed"


@dataclass(frozen=True)
class User:
    """A caller: identified by (issuer, subject); the rest is for display."""

    issuer: str
    subject: str
    name: str | None = None
    handle: str | None = None
    email: str | None = None
    is_librarian: bool = False


@dataclass(frozen=True)
class Patron:
    """A patron as we keep them: who signed in or borrowed, named as their ID token named them."""

    patron_id: str
    issuer: str
    subject: str
    name: str | None
    email: str | None
    reminders: bool = True  # due-soon reminders; overdue and hold-ready notices are always sent


@dataclass(frozen=True)
class NewBook:
    isbn: str
    title: str
    author: str
    price_cents: int
    borrow_fee_cents: int
    currency: str
    publication_year: int | None = None  # these three describe the title, if it is new
    language: str | None = None
    description: str | None = None


@dataclass(frozen=True)
class Book:
    book_id: str
    isbn: str
    title: str
    author: str
    price_cents: int
    borrow_fee_cents: int
    currency: str
    status: BookStatus
    created_at: datetime
    title_id: str | None = None


@dataclass(frozen=True)
class BookQuery:
    text: str | None = None
    status: BookStatus | None = None
    limit: int = 20
    offset: int = 0


@dataclass(frozen=True)
class Page:
    items: list[Book]
    total: int
    limit: int
    offset: int


@dataclass(frozen=True)
class Payment:
    payment_id: str
    kind: PaymentKind
    book_id: str
    payer: User
    amount_cents: int
    currency: str
    state: PaymentState
    intent_id: str | None = None
    loan_id: str | None = None
    purchase_id: str | None = None
    idempotency_key: str | None = None
    failure_reason: str | None = None
    request_id: str | None = None
    processor_synced: bool = True
    renewal_id: str | None = None


@dataclass(frozen=True)
class Loan:
    loan_id: str
    book_id: str
    borrower: User
    borrowed_at: datetime
    due_at: datetime
    returned_at: datetime | None = None
    payment_id: str | None = None
    closed_reason: str | None = None
    title: str | None = None
    renewals: int = 0


@dataclass(frozen=True)
class Purchase:
    purchase_id: str
    book_id: str
    buyer: User
    purchased_at: datetime
    payment_id: str | None = None
    reversed_at: datetime | None = None
    title: str | None = None


@dataclass(frozen=True)
class Authorization:
    """What the processor says about a payment intent."""

    intent_id: str
    status: str  # requires_confirmation | requires_capture | succeeded | canceled | ...
    amount_cents: int
    refunded: bool = False
    metadata: dict[str, str] = field(default_factory=dict)
