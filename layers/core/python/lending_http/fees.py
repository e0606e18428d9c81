"""The HTTP edge of fees: the policies read from the settings, and the JSON shapes of the account."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from lending import fees
from lending.clock import Clock
from lending.fees_model import Account, BlockPolicy, Charge, FeePolicy, PatronFile
from lending.model import Book, Patron, User
from lending.ports import LendingStore
from lending_http import views
from lending_settings import Settings


def fee_policy(s: Settings) -> FeePolicy:
    return FeePolicy(late_fee_cents=s.late_fee_cents, interval=s.fee_interval, grace=s.fee_grace_period)


def block_policy(s: Settings) -> BlockPolicy:
    return BlockPolicy(max_balance_cents=s.max_balance_cents, overdue_after=s.block_overdue_after)


def ensure_not_blocked(store: LendingStore, caller: User, settings: Settings, clock: Clock,
                       book_id: str | None = None) -> Book | None:
    """Borrowing, renewing and placing holds call this first: a blocked account is 403 account_blocked.
    A borrow of a copy names it: the copy is read in the same look (see lending.fees.ensure_not_blocked)."""
    return fees.ensure_not_blocked(store, caller, clock=clock, currency=settings.default_currency,
                                   policy=block_policy(settings), book_id=book_id)


def _time(value: datetime | None) -> str | None:
    return value.isoformat().replace("+00:00", "Z") if value else None


def charge(c: Charge, *, full: bool = False) -> dict[str, Any]:
    shown: dict[str, Any] = {"charge_id": c.charge_id, "kind": c.kind.value, "amount_cents": c.amount_cents,
                             "currency": c.currency, "loan_id": c.loan_id, "title": c.title,
                             "created_at": _time(c.created_at), "counts": c.counts}
    if full:  # what a librarian sees besides
        shown.update({"cancels": c.cancels, "reason": c.reason, "librarian": c.librarian, "payment_id": c.payment_id})
    return shown


def account(a: Account, now: datetime, policy: BlockPolicy, *, full: bool = False) -> dict[str, Any]:
    reasons = fees.block_reasons(a, now, policy)
    return {"balance_cents": a.balance_cents, "currency": a.currency,
            "charges": [charge(c, full=full) for c in a.charges], "blocked": bool(reasons), "block_reasons": reasons}


def patron(p: Patron) -> dict[str, Any]:
    return {"patron_id": p.patron_id, "iss": p.issuer, "sub": p.subject, "name": p.name, "email": p.email}


def patron_file(f: PatronFile, now: datetime, settings: Settings) -> dict[str, Any]:
    return {**patron(f.patron), "loans": [views.loan(loan, settings.max_renewals) for loan in f.loans],
            "holds": [views.hold(h) for h in f.holds],
            "account": account(f.account, now, block_policy(settings), full=True)}

