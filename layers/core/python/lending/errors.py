"""Domain exceptions. Only the HTTP edge (`lending_http.problems`) turns them into status codes."""

from __future__ import annotations


class LendingError(Exception):
    """Base of every error the service reports to a caller on purpose."""

    def __init__(self, detail: str, **extra: object) -> None:
        super().__init__(detail)
        self.detail = detail
        self.extra = extra


class InvalidRequest(LendingError):
    """The request is malformed: bad JSON, a missing field, a wrong type."""


class BookNotFound(LendingError):
    @classmethod
    def with_id(cls, book_id: str) -> BookNotFound:
        """No copy has this id: the one wording for it, whichever store or use case finds out."""
        return cls(f"No book with id {book_id}.")


class NotFound(LendingError):
    """An unknown route or resource other than a book."""


class BookUnavailable(LendingError):
    """The copy is borrowed or sold: someone else got there first."""


class NotOnLoan(LendingError):
    pass


class NotYourLoan(LendingError):
    pass


class NotAllowed(LendingError):
    """A valid user who may not do this (e.g. not a librarian)."""


class AuthenticationRequired(LendingError):
    """Missing, malformed or invalid bearer token."""


class CredentialsMissing(AuthenticationRequired):
    """No bearer credentials at all (RFC 6750 3.1: the challenge then carries no error code)."""


class IdentityProviderUnavailable(LendingError):
    """No signing keys can be had from the OIDC provider."""


class PaymentDeclined(LendingError):
    pass


class PaymentProcessorUnavailable(LendingError):
    """The processor is unreachable, timing out or failing; nothing was changed."""


class ProcessorRefused(LendingError):
    """The processor refused an operation on a payment (e.g. cancelling a captured one)."""


class PaymentReleased(LendingError):
    """The authorisation was released (e.g. by reconcile) before the book moved."""


class DatabaseUnavailable(LendingError):
    pass


class IdempotencyKeyReused(LendingError):
    """The same Idempotency-Key was sent with a different request."""


class RequestInProgress(LendingError):
    """A request with the same Idempotency-Key is still running."""


class WebhookSignatureInvalid(LendingError):
    pass


# -- circulation: every refusal carries a `reason` (put in the problem body by its extra) -----------
class TitleNotFound(LendingError):
    pass


class LoanNotFound(LendingError):
    """No loan with this id among the caller's own."""


class HoldNotFound(LendingError):
    """No hold with this id among the caller's own."""


class NoCopyAvailable(LendingError):
    """Every copy of the title is out (reason `no_copy_available`): the caller may place a hold."""


class HeldForAnother(BookUnavailable):
    """The copy waits on the hold shelf for another patron (reason `on_hold_shelf`)."""


class HoldRefused(LendingError):
    """reason: duplicate_hold | already_on_loan | copy_available | hold_limit."""


class RenewalRefused(LendingError):
    """reason: renewal_limit | on_hold | not_on_loan."""


# -- fees and the account (lending.fees) ----------------------------------------------------------
class AccountBlocked(NotAllowed):
    """reason `account_blocked`, with `block_reasons`: balance_over_limit | overdue_loan."""


class NothingToPay(LendingError):
    """reason `nothing_to_pay`: the balance is zero or in the patron's favour."""


class BalanceChanged(LendingError):
    """reason `balance_changed`: the balance moved (another payment, a new fee) while this one was authorised."""


class PatronNotFound(LendingError):
    pass


class ChargeNotFound(LendingError):
    pass


class WaiverRefused(LendingError):
    """reason: already_waived | not_waivable."""


# Every `reason` a problem body may carry (the OpenAPI contract's enum lists exactly these).
REASONS: tuple[str, ...] = ("no_copy_available", "on_hold_shelf", "duplicate_hold", "already_on_loan", "copy_available",
           "hold_limit", "renewal_limit", "on_hold", "not_on_loan", "account_blocked", "nothing_to_pay",
           "balance_changed", "already_waived", "not_waivable")


# -- the librarian's desk (issue 15) -----------------------------------------------------------------
class PurchaseNotFound(LendingError):
    pass


class WithdrawalRefused(LendingError):
    """reason: copy_on_loan | on_hold_shelf | already_withdrawn (with the copy's book_status)."""


class RefundRefused(LendingError):
    """reason: already_refunded | not_refundable (the sale's payment was never captured)."""


class CatalogueConflict(LendingError):
    """reason: duplicate_barcode | duplicate_isbn."""


class PayloadTooLarge(LendingError):
    """An upload above its limit (MAX_IMPORT_BYTES)."""


class UnsupportedMediaType(LendingError):
    """An upload in a format the operation does not read."""


REASONS = (*REASONS, "copy_on_loan", "copy_sold", "already_withdrawn", "already_refunded", "not_refundable",
           "duplicate_barcode", "duplicate_isbn")
