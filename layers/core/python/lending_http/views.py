"""JSON shapes of the business objects, as the API returns them."""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING, Any

from lending.circulation_model import Hold
from lending.model import Book, Loan, Page, Payment, Purchase, User

if TYPE_CHECKING:  # the catalogue's classes load with the catalogue's first use (lending.catalogue_model)
    from lending.catalogue_model import TitleDetail, TitlePage, TitleSummary


def _time(value: datetime | None) -> str | None:
    return value.isoformat().replace("+00:00", "Z") if value else None


def book(b: Book) -> dict[str, Any]:
    return {
        "book_id": b.book_id, "isbn": b.isbn, "title": b.title, "author": b.author,
        "price_cents": b.price_cents, "borrow_fee_cents": b.borrow_fee_cents, "currency": b.currency,
        "status": b.status.value, "created_at": _time(b.created_at), "title_id": b.title_id,
    }


def page(p: Page) -> dict[str, Any]:
    return {"items": [book(b) for b in p.items], "total": p.total, "limit": p.limit, "offset": p.offset}


def payment(p: Payment) -> dict[str, Any]:
    return {"id": p.payment_id, "status": p.state.value, "amount": p.amount_cents, "currency": p.currency}


def loan(l: Loan, max_renewals: int) -> dict[str, Any]:  # noqa: E741
    return {
        "renewals": l.renewals, "renewals_left": max(0, max_renewals - l.renewals) if l.returned_at is None else 0,
        "loan_id": l.loan_id, "book_id": l.book_id, "title": l.title, "borrowed_at": _time(l.borrowed_at),
        "due_at": _time(l.due_at), "returned_at": _time(l.returned_at), "closed_reason": l.closed_reason,
        "borrower": {"sub": l.borrower.subject, "name": l.borrower.name or l.borrower.handle},
    }


def purchase(p: Purchase) -> dict[str, Any]:
    return {"purchase_id": p.purchase_id, "book_id": p.book_id, "title": p.title,
            "purchased_at": _time(p.purchased_at), "reversed_at": _time(p.reversed_at)}


def user(u: User) -> dict[str, Any]:
    return {"iss": u.issuer, "sub": u.subject, "name": u.name, "handle": u.handle, "email": u.email,
            "is_librarian": u.is_librarian}


def title_summary(s: TitleSummary) -> dict[str, Any]:
    t = s.title
    return {"title_id": t.title_id, "isbn": t.isbn, "title": t.title, "author": t.author,
            "publication_year": t.publication_year, "language": t.language, "copies_total": s.copies_total,
            "copies_available": s.copies_available, "holds_waiting": s.holds_waiting}


def title_page(p: TitlePage) -> dict[str, Any]:
    f = p.facets
    return {"items": [title_summary(s) for s in p.items], "total": p.total, "total_exact": p.total_exact,
            "facets_exact": p.facets_exact, "limit": p.limit, "offset": p.offset,
            "facets": {"author": [{"value": c.value, "count": c.count} for c in f.author],
                       "language": [{"value": c.value, "count": c.count} for c in f.language],
                       "availability": {"available": f.available, "unavailable": f.unavailable}}}


def title_detail(d: TitleDetail) -> dict[str, Any]:
    return {**title_summary(d.summary), "description": d.summary.title.description,
            "copies": [{"book_id": c.book_id, "status": c.status.value, "due_at": _time(c.due_at),
                        "price_cents": c.price_cents, "borrow_fee_cents": c.borrow_fee_cents, "currency": c.currency}
                       for c in d.copies]}


def hold(h: Hold, *, with_patron: bool = False) -> dict[str, Any]:
    shown: dict[str, Any] = {"hold_id": h.hold_id, "title_id": h.title_id, "title": h.title, "position": h.position,
             "status": h.status.value, "placed_at": _time(h.placed_at), "ready_until": _time(h.ready_until),
             "book_id": h.book_id}
    if with_patron:
        shown["patron"] = {"sub": h.patron.subject, "name": h.patron.name}
    return shown
