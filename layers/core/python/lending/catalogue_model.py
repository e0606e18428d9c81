"""The catalogue as patrons search it: titles, their copies, facets and pages. Plain, immutable data.

Apart from lending.circulation_model (holds, shelf moves, renewals) so that a process that only
lends and returns never builds these classes (a frozen dataclass costs ~0.5 ms at import).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from lending.model import BookStatus


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
