"""What a database refusal means to the caller who lost a race (migrations 0001, 0002 and the circulation's).

A race lost to another transaction is refused by whichever guard sees it first: each refusal, by the
guard's name, is the domain error the loser gets. Anything else is not a race and stays an error.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from pg8000.exceptions import DatabaseError

from lending.errors import BookNotFound, BookUnavailable, LendingError, PaymentReleased

TAKEN = "Someone else has just borrowed or bought this book."
PAYMENT_ATTACHED = "loans_payment_attached"  # a lent copy's payment is attached to its loan (circulation, 0013)
RELEASED = ("The payment authorisation was released before the book could be reserved; "
            "nothing was charged, please try again.")
# A race lost to another transaction is refused by whichever guard sees it first (migrations
# 0001, 0002): each refusal, by the guard's name, is the domain error the loser gets.
_REFUSALS: dict[str, tuple[type[LendingError], str]] = {
    "loans_one_open_per_book": (BookUnavailable, TAKEN),
    "purchases_one_sale_per_book": (BookUnavailable, TAKEN),
    "loans_book_id_open_status_fkey": (BookUnavailable, TAKEN),  # the book is sold (or not borrowed)
    "purchases_book_id_sold_status_fkey": (BookUnavailable, TAKEN),  # the book is lent (or not sold)
    "loans_book_id_fkey": (BookNotFound, "This book no longer exists."),
    "purchases_book_id_fkey": (BookNotFound, "This book no longer exists."),
    "loans_payment_id_fkey": (PaymentReleased, RELEASED),
    "purchases_payment_id_fkey": (PaymentReleased, RELEASED),
    "payments_one_per_loan": (PaymentReleased, RELEASED),
    "payments_one_per_purchase": (PaymentReleased, RELEASED),
    "payments_check": (PaymentReleased, RELEASED),
    "loans_payment_pays_for_this": (PaymentReleased, RELEASED),
    "purchases_payment_pays_for_this": (PaymentReleased, RELEASED),
    PAYMENT_ATTACHED: (PaymentReleased, RELEASED),
}
# Serialization failure, deadlock: the other transaction won (only under REPEATABLE READ or
# SERIALIZABLE, or a lock cycle with reconcile); the loser is told to try again.
_LOST_TO_CONCURRENT = ("40001", "40P01")


def _sqlstate(exc: DatabaseError) -> str:
    return str(exc.args[0].get("C", "")) if exc.args and isinstance(exc.args[0], dict) else ""


def refusal(exc: DatabaseError) -> LendingError | None:
    """The domain error a database refusal means to the caller, or None if it is not a lost race."""
    if _sqlstate(exc) in _LOST_TO_CONCURRENT:
        return BookUnavailable("Another request changed this book at the same moment; please try again.")
    name = str(exc.args[0].get("n", "")) if exc.args and isinstance(exc.args[0], dict) else ""
    if name in _REFUSALS and _sqlstate(exc) in ("23505", "23503", "23514", "P0001"):
        cls, detail = _REFUSALS[name]
        return cls(detail)
    return None


@contextmanager
def refusals() -> Iterator[None]:
    try:
        yield
    except DatabaseError as exc:
        translated = refusal(exc)
        if translated is None:
            raise
        raise translated from exc
