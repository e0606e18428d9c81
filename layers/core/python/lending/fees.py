"""Fees: late fees, lost copies, the patron's account, blocks, paying the balance and waivers.

The arithmetic is here, pure; the store applies it inside the transaction that returns, renews or
declares a copy lost (so a return never fails for money reasons: a fee is a charge, not a card
payment). Paying the balance follows the money steps of borrowing (lending.payment_flow).
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta

from lending import payment_flow, resume
from lending.clock import Clock
from lending.errors import AccountBlocked, BalanceChanged, NotAllowed, NothingToPay, PatronNotFound, PaymentReleased
from lending.fees_model import Account, BlockPolicy, Charge, FeePolicy, Lost, PatronFile
from lending.model import Book, Patron, Payment, PaymentKind, PaymentState, User
from lending.ports import LendingStore, PaymentGateway

BALANCE_OVER_LIMIT, OVERDUE_LOAN = "balance_over_limit", "overdue_loan"


def late_fee(due_at: datetime, until: datetime, policy: FeePolicy, cap_cents: int) -> int:
    """LATE_FEE_CENTS per started interval past `due_at`, nothing within the grace period, at most `cap_cents`.

    Intervals count from the due date, not from the end of the grace period: with a day's grace and a
    daily fee, a copy 1 day late costs nothing and one 1 day and 1 second late costs two days' fee.
    """
    late = until - due_at
    if late <= policy.grace or cap_cents <= 0:
        return 0
    started = -(-late // policy.interval)  # ceiling: a started interval counts in full
    return min(started * policy.late_fee_cents, cap_cents)


def block_reasons(account: Account, now: datetime, policy: BlockPolicy) -> list[str]:
    reasons = []
    if account.balance_cents > policy.max_balance_cents:
        reasons.append(BALANCE_OVER_LIMIT)
    if account.oldest_due_at is not None and now - account.oldest_due_at > policy.overdue_after:
        reasons.append(OVERDUE_LOAN)
    return reasons


def account_of(store: LendingStore, patron: User, currency: str) -> Account:
    return store.account(patron, currency)


def ensure_not_blocked(store: LendingStore, patron: User, *, clock: Clock, currency: str,
                       policy: BlockPolicy, book_id: str | None = None) -> Book | None:
    """Raise AccountBlocked (403) if the patron may not borrow, renew or place holds now.

    With `book_id` (a borrow of that copy), the copy is read in the same look and returned, or None
    if there is no such copy (the borrow says so after its own checks)."""
    if book_id is None:
        account, copy = store.standing(patron, currency), None
    else:
        account, copy = store.standing_and_copy(patron, currency, book_id)
    reasons = block_reasons(account, clock.now(), policy)
    if reasons:
        raise AccountBlocked("Your account is blocked: pay the balance or return overdue books first.",
                             reason="account_blocked", block_reasons=reasons)
    return copy


@dataclass(frozen=True)
class FeePaid:
    charge: Charge
    payment: Payment


def pay_balance(store: LendingStore, gateway: PaymentGateway, patron: User, payment_method: str, *,
                currency: str, idempotency_key: str | None = None, request_id: str | None = None) -> FeePaid:
    """Pay the whole balance by card: ledger row, authorise, credit the account (under the patron's
    lock: a second payment at once finds the balance paid, its hold is released, 409), capture."""
    earlier = resume.earlier_outcome(store, gateway, patron, idempotency_key, PaymentKind.FEE_PAYMENT, None,
                                     lambda p: store.fee_payment_charge(p.payment_id))
    if earlier:
        return FeePaid(*earlier)
    balance = store.account(patron, currency).balance_cents
    if balance <= 0:
        raise NothingToPay("There is nothing to pay.", reason="nothing_to_pay", balance_cents=balance)
    payment = Payment(payment_id=str(uuid.uuid4()), kind=PaymentKind.FEE_PAYMENT, book_id=None, payer=patron,
                      amount_cents=balance, currency=currency, state=PaymentState.PENDING,
                      idempotency_key=idempotency_key, request_id=request_id)
    payment = payment_flow.authorize(store, gateway, payment, payment_method)
    try:
        charge = store.record_fee_payment(payment.payment_id, patron)
    except (BalanceChanged, PaymentReleased):
        payment_flow.release(store, gateway, payment, "the balance changed while the payment was authorised")
        raise
    return FeePaid(charge, payment_flow.capture(store, gateway, payment))


def declare_lost(store: LendingStore, clock: Clock, *, lost_after: timedelta, fees: FeePolicy) -> list[Lost]:
    """The overdue job's part: loans overdue by `lost_after` are declared lost (see FeeStore.declare_lost)."""
    return store.declare_lost(now=clock.now(), lost_after=lost_after, fees=fees)


def _librarian(user: User) -> None:
    if not user.is_librarian:
        raise NotAllowed("Only librarians may do this.")


def find_patrons(store: LendingStore, librarian: User, text: str | None, *, limit: int = 50) -> list[Patron]:
    _librarian(librarian)
    return store.search_patrons(text, limit)


def patron_file(store: LendingStore, librarian: User, patron_id: str, *, currency: str) -> PatronFile:
    _librarian(librarian)
    patron = store.patron_by_id(patron_id)
    if patron is None:
        raise PatronNotFound(f"No patron with id {patron_id}.")
    who = User(patron.issuer, patron.subject, name=patron.name)
    return PatronFile(patron, store.loans_of(who), store.holds_of(who), store.account(who, currency))


def waive(store: LendingStore, librarian: User, patron_id: str, charge_id: str, reason: str) -> Charge:
    _librarian(librarian)
    return store.waive_charge(patron_id, charge_id, librarian, reason)
