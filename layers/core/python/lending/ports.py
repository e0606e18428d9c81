"""The internal APIs the domain needs from the outside world.

Each port has a real adapter in its own layer (PostgreSQL, Stripe, OIDC) and, for the store and the processor,
an in-memory fake in `tests/support/fakes.py` that passes the same contract tests.
"""

from __future__ import annotations

from contextlib import AbstractContextManager
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Protocol

from lending.circulation_model import Hold, ShelfMove
from lending.fees_model import FeePolicy
from lending.fees_ports import FeeStore
from lending.model import (
    Authorization,
    Book,
    BookQuery,
    Loan,
    NewBook,
    Page,
    Patron,
    Payment,
    PaymentKind,
    PaymentState,
    Purchase,
    User,
)
from lending.notice_ports import NoticeStore

if TYPE_CHECKING:  # loaded by the catalogue's first use
    from lending.catalogue_model import TitleDetail, TitlePage, TitleQuery


@dataclass(frozen=True)
class StoredResponse:
    status: int
    body: str
    content_type: str


@dataclass(frozen=True)
class IdempotencyClaim:
    """Result of claiming an idempotency key: either ours to run, or a prior outcome."""

    owned: bool
    fingerprint: str
    response: StoredResponse | None = None  # set when the first request finished


@dataclass(frozen=True)
class Purged:
    """How many rows one retention pass deleted from each table."""

    idempotency_keys: int
    processor_events: int


class JobTurn(Protocol):
    """One run's hold on a job's estate-wide lock (see LendingStore.job_turn)."""

    last_finished: datetime | None  # when a run of this job last finished, on any host

    def finished(self, summary: str) -> None:
        """Record that this run finished now, with a one-line summary of what it did."""
        ...


class PaymentSettlement(Protocol):
    """A payment row locked for settling by reconcile; released on exit."""

    payment: Payment
    loan_open: bool
    sale_standing: bool
    renewal_standing: bool
    fee_paid: bool  # a fee payment whose credit stands on the patron's account

    def mark(self, state: PaymentState, *, reason: str | None = None, synced: bool = True) -> None: ...

    def reverse_loan(self, reason: str) -> None: ...

    def reverse_sale(self, reason: str) -> None: ...

    def reverse_renewal(self, reason: str) -> None:
        """The renewal this payment paid for cannot stand: the loan's due date goes back."""
        ...

    def intent_closed(self) -> None:
        """Record that this failed payment's intent holds nothing and never will: reconcile looks no more."""
        ...

    def remember_event(self, event_id: str) -> bool:
        """Claim a processor event for this settlement; False if it was seen before.

        The event is recorded as seen in the same transaction as the step that completes the
        settlement (a `mark` with synced=True), or when the settlement ends with nothing to do;
        if the settlement fails first, it is not recorded.
        """
        ...


class LendingStore(NoticeStore, FeeStore, Protocol):
    """Persistence of books, loans, purchases, the payments ledger and idempotency keys.

    Every method is its own transaction. The methods that move a book settle races
    with a conditional update on the book's status.
    """

    # catalogue
    def add_book(self, new: NewBook) -> Book: ...

    def get_book(self, book_id: str) -> Book | None: ...

    def list_books(self, query: BookQuery) -> Page: ...

    # ledger
    def record_payment(self, payment: Payment) -> None: ...

    def update_payment(
        self,
        payment_id: str,
        state: PaymentState,
        *,
        intent_id: str | None = None,
        reason: str | None = None,
        synced: bool = True,
        only_from: tuple[PaymentState, ...] = (),
    ) -> bool: ...

    def get_payment(self, payment_id: str) -> Payment | None: ...

    # the moves
    def open_loan(self, book_id: str, borrower: User, payment_id: str, due_at: datetime) -> Loan:
        """Mark the book borrowed, open a loan and attach the authorised payment.

        Raises BookUnavailable when the book is not available, PaymentReleased when
        the payment is no longer authorised; nothing is written in either case.
        """
        ...

    def close_loan(self, book_id: str, caller: User, *, now: datetime | None = None,
                   pickup_period: timedelta = timedelta(days=7), fees: FeePolicy | None = None) -> Loan:
        """Return the book. Raises BookNotFound, NotOnLoan, or NotYourLoan unless caller borrowed it or is
        a librarian.

        In the same transaction, a copy of a title with a waiting hold goes to the hold shelf for the
        first patron in line, whose hold is ready until now + pickup_period. With `fees`, a late return
        adds its late fee, and a lost copy coming back reverses its lost charge (lending.fees).
        """
        ...

    # circulation: titles, holds, renewals (serialised per title by a lock on the title)
    def search_titles(self, query: TitleQuery) -> TitlePage: ...

    def get_title(self, title_id: str) -> TitleDetail | None: ...

    def copy_to_lend(self, title_id: str, borrower: User) -> Book | None:
        """The copy borrow_title would lend now: the one waiting for `borrower`, else a free one."""
        ...

    def holder_of(self, book_id: str) -> User | None:
        """The patron a copy on the hold shelf waits for."""
        ...

    def lend_copy_of_title(self, title_id: str, borrower: User, payment_id: str, due_at: datetime) -> Loan:
        """open_loan for any copy of the title this borrower may have. Raises NoCopyAvailable, PaymentReleased."""
        ...

    def place_hold(self, title_id: str, patron: User, *, now: datetime, max_holds: int) -> Hold:
        """Raises HoldRefused (duplicate_hold, already_on_loan, copy_available, hold_limit)."""
        ...

    def holds_of(self, patron: User) -> list[Hold]: ...

    def title_holds(self, title_id: str) -> list[Hold]:
        """The title's active holds (ready first, then waiting in order)."""
        ...

    def cancel_hold(self, hold_id: str, patron: User, *, now: datetime, pickup_period: timedelta) -> None:
        """Raises HoldNotFound unless it is the patron's; a hold no longer active is left as it is."""
        ...

    def expire_ready_holds(self, *, now: datetime, pickup_period: timedelta) -> list[ShelfMove]: ...

    def check_renewal(self, loan_id: str, patron: User, *, max_renewals: int) -> Loan:
        """The patron's open loan if it could be renewed now; raises LoanNotFound or RenewalRefused."""
        ...

    def renew_loan(self, loan_id: str, patron: User, payment_id: str, *, now: datetime,
                   loan_period: timedelta, max_renewals: int, fees: FeePolicy | None = None) -> Loan:
        """Extend the loan to max(now, due) + loan_period and attach the authorised renewal payment.

        With `fees`, an overdue loan's late fee so far is added to the account in the same transaction.
        Raises LoanNotFound, RenewalRefused (renewal_limit, on_hold, not_on_loan) or PaymentReleased;
        nothing is written then.
        """
        ...

    def record_sale(self, book_id: str, buyer: User, payment_id: str) -> Purchase: ...

    def loans_of(self, user: User) -> list[Loan]: ...

    def purchases_of(self, user: User) -> list[Purchase]: ...

    def open_loans(self) -> list[Loan]: ...

    # reconcile
    def payments_to_settle(self, older_than_seconds: float) -> list[str]: ...

    def settling(self, payment_id: str, *,
                 only_unsettled: bool = True) -> AbstractContextManager[PaymentSettlement | None]:
        """Lock one payment row; None if another settler holds it or (only_unsettled) it needs nothing."""
        ...

    # patrons
    def remember_patron(self, user: User) -> None:
        """Keep the patron's issuer, subject, name and email (an upsert that writes only what changed)."""
        ...

    def find_patron(self, issuer: str, subject: str) -> Patron | None: ...

    # idempotency
    def claim_idempotency_key(
        self, user: User, key: str, fingerprint: str, stale_after_seconds: float
    ) -> IdempotencyClaim: ...

    def finish_idempotency_key(self, user: User, key: str, response: StoredResponse) -> None: ...

    def release_idempotency_key(self, user: User, key: str) -> None: ...

    # jobs and retention
    def job_turn(self, job: str) -> AbstractContextManager[JobTurn | None]:
        """Take `job`'s lock for the whole estate for the block; None when another run holds it.

        The lock goes with the block (or with the connection, if the process dies), never stays.
        """
        ...

    def purge(self, *, keys_finished_before: datetime, events_received_before: datetime, limit: int) -> Purged:
        """Delete up to `limit` idempotency keys that finished before `keys_finished_before`, and up to
        `limit` processor events received before `events_received_before`. A key still in progress is
        never deleted. Rows another purge is deleting at the same moment are skipped, not waited for."""
        ...

    # webhooks
    def remember_event(self, event_id: str) -> bool:
        """Record a processor event id; False if it was seen before."""
        ...

    def payment_by_intent(self, intent_id: str) -> Payment | None: ...

    def payment_for_key(self, payer: User, key: str, kind: PaymentKind) -> Payment | None:
        """The newest payment `payer` made with Idempotency-Key `key` for `kind` (a retry's first attempt)."""
        ...

    def ping(self) -> None: ...

    def schema_current(self) -> bool: ...

    def defer_settling(self, payment_id: str, error: str, *, first_delay_seconds: float,
                       max_delay_seconds: float) -> int:
        """Record that settling this payment failed with `error`; returns the failed attempts so far.

        `payments_to_settle` does not offer it again until first_delay * 2^(attempts - 1)
        seconds (at most max_delay) have passed.
        """
        ...


class PaymentGateway(Protocol):
    """Authorise, capture, release and refund card payments.

    Raises PaymentDeclined for a card the issuer refused and
    PaymentProcessorUnavailable when the processor cannot be reached or fails.
    """

    def create_authorization(
        self, *, amount_cents: int, currency: str, payment_method: str, idempotency_key: str,
        metadata: dict[str, str],
    ) -> str:
        """Create an unconfirmed manual-capture intent; returns its id. No money is held yet."""
        ...

    def confirm_authorization(self, intent_id: str, idempotency_key: str) -> Authorization: ...

    def capture(self, intent_id: str, idempotency_key: str) -> Authorization: ...

    def cancel(self, intent_id: str, idempotency_key: str) -> Authorization: ...

    def refund(self, intent_id: str, idempotency_key: str) -> Authorization: ...

    def retrieve(self, intent_id: str) -> Authorization: ...


class TokenVerifier(Protocol):
    def authenticate(self, authorization_header: str | None) -> User:
        """Raises AuthenticationRequired, or IdentityProviderUnavailable."""
        ...
