"""The one error mapping: domain exception type → status, title and metric outcome, for every host."""

from __future__ import annotations

from typing import Any, NamedTuple

from lending import errors
from lending_http.messages import PROBLEM, Response


class Problem(NamedTuple):
    status: int
    title: str
    outcome: str  # the metric's outcome dimension; keyed by type, so renaming a title changes nothing


PROBLEMS: dict[type[errors.LendingError], Problem] = {
    errors.InvalidRequest: Problem(400, "Bad Request", "client_error"),
    errors.WebhookSignatureInvalid: Problem(400, "Invalid Signature", "client_error"),
    errors.AuthenticationRequired: Problem(401, "Unauthorized", "unauthenticated"),
    errors.PaymentDeclined: Problem(402, "Payment Declined", "declined"),
    errors.NotAllowed: Problem(403, "Forbidden", "forbidden"),
    errors.NotYourLoan: Problem(403, "Forbidden", "forbidden"),
    errors.BookNotFound: Problem(404, "Book Not Found", "client_error"),
    errors.NotFound: Problem(404, "Not Found", "client_error"),
    errors.BookUnavailable: Problem(409, "Book Unavailable", "lost_race"),
    errors.NotOnLoan: Problem(409, "Not On Loan", "client_error"),
    errors.PaymentReleased: Problem(409, "Payment Released", "released"),
    errors.RequestInProgress: Problem(409, "Request In Progress", "in_progress"),
    errors.TitleNotFound: Problem(404, "Title Not Found", "client_error"),
    errors.LoanNotFound: Problem(404, "Loan Not Found", "client_error"),
    errors.HoldNotFound: Problem(404, "Hold Not Found", "client_error"),
    errors.NoCopyAvailable: Problem(409, "No Copy Available", "no_copy"),
    errors.HeldForAnother: Problem(409, "Copy On Hold Shelf", "lost_race"),
    errors.HoldRefused: Problem(409, "Hold Refused", "refused"),
    errors.RenewalRefused: Problem(409, "Renewal Refused", "refused"),
    errors.AccountBlocked: Problem(403, "Account Blocked", "blocked"),
    errors.NothingToPay: Problem(409, "Nothing To Pay", "refused"),
    errors.BalanceChanged: Problem(409, "Balance Changed", "lost_race"),
    errors.PatronNotFound: Problem(404, "Patron Not Found", "client_error"),
    errors.ChargeNotFound: Problem(404, "Charge Not Found", "client_error"),
    errors.WaiverRefused: Problem(409, "Waiver Refused", "refused"),
    errors.IdempotencyKeyReused: Problem(422, "Idempotency Key Reused", "client_error"),
    errors.ProcessorRefused: Problem(502, "Payment Processor Refused", "server_error"),
    errors.PaymentProcessorUnavailable: Problem(503, "Payment Processor Unavailable", "processor_down"),
    errors.DatabaseUnavailable: Problem(503, "Database Unavailable", "database_down"),
    errors.IdentityProviderUnavailable: Problem(503, "Identity Provider Unavailable", "identity_provider_down"),
    # the librarian's desk
    errors.PurchaseNotFound: Problem(404, "Purchase Not Found", "client_error"),
    errors.WithdrawalRefused: Problem(409, "Withdrawal Refused", "refused"),
    errors.RefundRefused: Problem(409, "Refund Refused", "refused"),
    errors.CatalogueConflict: Problem(409, "Catalogue Conflict", "refused"),
    errors.PayloadTooLarge: Problem(413, "Payload Too Large", "client_error"),
    errors.UnsupportedMediaType: Problem(415, "Unsupported Media Type", "client_error"),
}
STATUS_OF: dict[type[errors.LendingError], tuple[int, str]] = {kind: (p.status, p.title) for kind, p in PROBLEMS.items()}
INTERNAL = Problem(500, "Internal Server Error", "server_error")
RETRY_AFTER_SECONDS = "5"
REALM = "library-lending"


def problem(status: int, title: str, detail: str, request_id: str, *, outcome: str | None = None,
            **extra: Any) -> Response:
    body: dict[str, Any] = {"type": "about:blank", "title": title, "status": status, "detail": detail,
                            "request_id": request_id}
    body.update({k: v for k, v in extra.items() if k not in body})
    headers: dict[str, str] = {}
    if status == 503:
        headers["Retry-After"] = RETRY_AFTER_SECONDS
    if outcome is None:
        outcome = "client_error" if status < 500 else "server_error"
    return Response(status, body, headers, PROBLEM, outcome)


def problem_of(exc: errors.LendingError) -> Problem:
    for kind in type(exc).__mro__:
        if kind in PROBLEMS:
            return PROBLEMS[kind]  # type: ignore[index]
    return INTERNAL


def error_response(exc: errors.LendingError, request_id: str) -> Response:
    found = problem_of(exc)
    response = problem(found.status, found.title, exc.detail, request_id, outcome=found.outcome, **exc.extra)
    if isinstance(exc, errors.CredentialsMissing):
        response.headers["WWW-Authenticate"] = f'Bearer realm="{REALM}"'
    elif isinstance(exc, errors.AuthenticationRequired):
        description = exc.detail.replace('"', "'")
        response.headers["WWW-Authenticate"] = (
            f'Bearer realm="{REALM}", error="invalid_token", error_description="{description}"')
    if isinstance(exc, errors.RequestInProgress):
        response.headers["Retry-After"] = "1"
    return response


def internal_error(request_id: str) -> Response:
    return problem(500, INTERNAL.title, "Something went wrong on our side.", request_id, outcome=INTERNAL.outcome)


def outcome_of(operation: str, response: Response) -> str:
    """won | ok | replayed | lost_race | declined | processor_down | database_down | ... | client_error | server_error."""
    if response.headers.get("Idempotent-Replayed") == "true":
        return "replayed"
    if response.status < 400:
        return "won" if response.status == 201 and operation in ("borrow", "purchase", "borrow_title") else "ok"
    return response.outcome or ("client_error" if response.status < 500 else "server_error")
