"""Titles, holds and renewals: plain, immutable data with no I/O (see lending.model for copies)."""

from __future__ import annotations

import enum
from dataclasses import dataclass, field
from datetime import datetime

from lending.model import BookStatus, Loan, User


class HoldStatus(str, enum.Enum):
    WAITING = "waiting"
    READY = "ready"  # a copy waits on the hold shelf until ready_until
    FULFILLED = "fulfilled"
    CANCELLED = "cancelled"
    EXPIRED = "expired"


ACTIVE_HOLDS = (HoldStatus.WAITING, HoldStatus.READY)


@dataclass(frozen=True)
class Title:
    title_id: str
    isbn: str
    title: str
    author: str
    publication_year: int | None = None
    language: str | None = None
    description: str | None = None


@dataclass(frozen=True)
class TitleSummary:
    """A title as search lists it. Withdrawn copies are not counted."""

    title: Title
    copies_total: int
    copies_available: int
    holds_waiting: int


@dataclass(frozen=True)
class TitleQuery:
    text: str | None = None
    available: bool | None = None
    author: str | None = None
    language: str | None = None
    limit: int = 20
    offset: int = 0


@dataclass(frozen=True)
class FacetCount:
    value: str
    count: int


@dataclass(frozen=True)
class Facets:
    """Counts over what the query matched, each leaving out its own filter (so a patron can widen it)."""

    author: list[FacetCount] = field(default_factory=list)
    language: list[FacetCount] = field(default_factory=list)
    available: int = 0
    unavailable: int = 0


@dataclass(frozen=True)
class TitlePage:
    """`total` and the facets count at most a bounded number of matches: past it they are lower bounds
    and the flags say so (docs/circulation.md#search)."""

    items: list[TitleSummary]
    total: int
    limit: int
    offset: int
    facets: Facets
    total_exact: bool = True
    facets_exact: bool = True


@dataclass(frozen=True)
class Copy:
    book_id: str
    status: BookStatus
    price_cents: int
    borrow_fee_cents: int
    currency: str
    due_at: datetime | None = None  # when on loan


@dataclass(frozen=True)
class TitleDetail:
    summary: TitleSummary
    copies: list[Copy]


@dataclass(frozen=True)
class Hold:
    hold_id: str
    title_id: str
    patron: User
    status: HoldStatus
    placed_at: datetime
    position: int | None = None  # in the queue, while waiting (1 = next)
    book_id: str | None = None  # the copy on the hold shelf, once ready
    ready_until: datetime | None = None
    title: str | None = None


@dataclass(frozen=True)
class ShelfMove:
    """What became of a copy whose ready hold ended: it waits for `next_hold_id`, or is back on the shelf."""

    hold_id: str
    book_id: str
    next_hold_id: str | None


@dataclass(frozen=True)
class Renewed:
    loan: Loan
    renewal_id: str
