"""JSON shapes of the business objects, as the API returns them."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from lending.model import Book, Loan, Page, Payment, Purchase, User


def _time(value: datetime | None) -> str | None:
    return value.isoformat().replace("+00:00", "Z") if value else None


def book(b: Book) -> dict[str, Any]:
    return {
        "book_id": b.book_id, "isbn": b.isbn, "title": b.title, "author": b.author,
        "price_cents": b.price_cents, "borrow_fee_cents": b.borrow_fee_cents, "currency": b.currency,
        "status": b.status.value, "created_at": _time(b.created_at),
    }


def page(p: Page) -> dict[str, Any]:
    return {"items": [book(b) for b in p.items], "total": p.total, "limit": p.limit, "offset": p.offset}


def payment(p: Payment) -> dict[str, Any]:
    return {"id": p.payment_id, "status": p.state.value, "amount": p.amount_cents, "currency": p.currency}


def loan(l: Loan) -> dict[str, Any]:  # noqa: E741
    return {
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
