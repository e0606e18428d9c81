"""Holds and renewals: plain, immutable data with no I/O (lending.catalogue_model has titles, lending.model copies)."""

from __future__ import annotations

import enum
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from lending.model import Loan, User


class HoldStatus(str, enum.Enum):
    WAITING = "waiting"
    READY = "ready"  # a copy waits on the hold shelf until ready_until
    FULFILLED = "fulfilled"
    CANCELLED = "cancelled"
    EXPIRED = "expired"


ACTIVE_HOLDS = (HoldStatus.WAITING, HoldStatus.READY)


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


_CATALOGUE = frozenset({"Title", "TitleSummary", "TitleQuery", "FacetCount", "Facets", "TitlePage", "Copy", "TitleDetail"})


def __getattr__(name: str) -> Any:
    """The catalogue's classes lived here; code outside the layers may still import them from here."""
    if name in _CATALOGUE:
        from lending import catalogue_model

        return getattr(catalogue_model, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
