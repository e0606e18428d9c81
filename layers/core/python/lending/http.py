"""API Gateway proxy events in, proxy responses out: the one HTTP mapping for every host.

Chalice (`app.py`), Lambda and the VM runtime all deliver the same proxy event to a
handler wrapped by `endpoint`, so status codes and problem bodies are identical
everywhere.
"""

from __future__ import annotations

import base64
import binascii
import json
import logging
import uuid
from collections.abc import Callable, Mapping
from contextvars import ContextVar
from dataclasses import dataclass, field
from typing import Any

from lending import errors

log = logging.getLogger("lending.http")

PROBLEM = "application/problem+json"
JSON = "application/json"

# domain error -> (status, title). The single source of truth for every host.
STATUS_OF: dict[type[errors.LendingError], tuple[int, str]] = {
    errors.InvalidRequest: (400, "Bad Request"),
    errors.WebhookSignatureInvalid: (400, "Invalid Signature"),
    errors.AuthenticationRequired: (401, "Unauthorized"),
    errors.PaymentDeclined: (402, "Payment Declined"),
    errors.NotAllowed: (403, "Forbidden"),
    errors.NotYourLoan: (403, "Forbidden"),
    errors.BookNotFound: (404, "Book Not Found"),
    errors.NotFound: (404, "Not Found"),
    errors.BookUnavailable: (409, "Book Unavailable"),
    errors.NotOnLoan: (409, "Not On Loan"),
    errors.PaymentReleased: (409, "Payment Released"),
    errors.RequestInProgress: (409, "Request In Progress"),
    errors.IdempotencyKeyReused: (422, "Idempotency Key Reused"),
    errors.ProcessorRefused: (502, "Payment Processor Refused"),
    errors.PaymentProcessorUnavailable: (503, "Payment Processor Unavailable"),
    errors.DatabaseUnavailable: (503, "Database Unavailable"),
    errors.IdentityProviderUnavailable: (503, "Identity Provider Unavailable"),
}
RETRY_AFTER_SECONDS = "5"
REALM = "library-lending"
# The id of the request this thread is serving, for adapters that tag their work with it
# (PostgreSQL's application_name); set by `endpoint` for the length of one request.
_CURRENT_REQUEST_ID: ContextVar[str | None] = ContextVar("lending_request_id", default=None)


def current_request_id() -> str | None:
    return _CURRENT_REQUEST_ID.get()


@dataclass
class Request:
    method: str
    path: str
    headers: dict[str, str]  # lower-cased names
    query: dict[str, list[str]]
    path_params: dict[str, str]
    body: bytes
    request_id: str
    event: Mapping[str, Any] = field(repr=False, default_factory=dict)

    @classmethod
    def from_event(cls, event: Mapping[str, Any]) -> Request:
        headers: dict[str, str] = {}
        for name, values in (event.get("multiValueHeaders") or {}).items():
            if values:
                headers[name.lower()] = ", ".join(values)
        for name, value in (event.get("headers") or {}).items():
            if value is not None:
                headers.setdefault(name.lower(), value)
        query: dict[str, list[str]] = {}
        for name, values in (event.get("multiValueQueryStringParameters") or {}).items():
            query[name] = list(values or [])
        for name, value in (event.get("queryStringParameters") or {}).items():
            query.setdefault(name, [value])
        raw = event.get("body") or ""
        if event.get("isBase64Encoded"):
            try:
                body = base64.b64decode(raw, validate=True)
            except (binascii.Error, ValueError) as exc:
                raise errors.InvalidRequest("The body is not valid base64.") from exc
        else:
            body = raw.encode() if isinstance(raw, str) else bytes(raw)
        return cls(
            method=(event.get("httpMethod") or "GET").upper(), path=event.get("path") or "/",
            headers=headers, query=query, path_params=dict(event.get("pathParameters") or {}),
            body=body, request_id=request_id_of(event) or str(uuid.uuid4()), event=event,
        )

    def json(self) -> dict[str, Any]:
        if not self.body.strip():
            raise errors.InvalidRequest("The request needs a JSON object body.")
        try:
            value = json.loads(self.body)
        except (ValueError, UnicodeDecodeError) as exc:
            raise errors.InvalidRequest("The body is not valid JSON.") from exc
        if not isinstance(value, dict):
            raise errors.InvalidRequest("The body must be a JSON object.")
        return value

    def query_one(self, name: str) -> str | None:
        values = self.query.get(name)
        return values[-1] if values else None


@dataclass
class Response:
    status: int
    body: Any = None
    headers: dict[str, str] = field(default_factory=dict)
    content_type: str = JSON

    def to_proxy(self, request_id: str) -> dict[str, Any]:
        headers = {"Content-Type": self.content_type, "X-Request-ID": request_id, **self.headers}
        text = "" if self.body is None else (
            self.body if isinstance(self.body, str) else json.dumps(self.body, separators=(",", ":")))
        return {"statusCode": self.status, "headers": headers, "body": text, "isBase64Encoded": False}


def problem(status: int, title: str, detail: str, request_id: str, **extra: Any) -> Response:
    body: dict[str, Any] = {"type": "about:blank", "title": title, "status": status, "detail": detail,
                            "request_id": request_id}
    body.update({k: v for k, v in extra.items() if k not in body})
    headers: dict[str, str] = {}
    if status == 503:
        headers["Retry-After"] = RETRY_AFTER_SECONDS
    return Response(status, body, headers, PROBLEM)


def error_response(exc: errors.LendingError, request_id: str) -> Response:
    status, title = 500, "Internal Server Error"
    for kind in type(exc).__mro__:
        if kind in STATUS_OF:
            status, title = STATUS_OF[kind]  # type: ignore[index]
            break
    response = problem(status, title, exc.detail, request_id, **exc.extra)
    if isinstance(exc, errors.CredentialsMissing):
        response.headers["WWW-Authenticate"] = f'Bearer realm="{REALM}"'
    elif isinstance(exc, errors.AuthenticationRequired):
        description = exc.detail.replace('"', "'")
        response.headers["WWW-Authenticate"] = (
            f'Bearer realm="{REALM}", error="invalid_token", error_description="{description}"')
    if isinstance(exc, errors.RequestInProgress):
        response.headers["Retry-After"] = "1"
    return response


Handler = Callable[[Request], Response]
ProxyHandler = Callable[[Mapping[str, Any], Any], dict[str, Any]]


def endpoint(fn: Handler) -> ProxyHandler:
    """Wrap a use-case function as a Lambda proxy handler with the one error mapping."""

    def handle(event: Mapping[str, Any], context: Any = None) -> dict[str, Any]:
        request_id = request_id_of(event) or str(uuid.uuid4())
        current = _CURRENT_REQUEST_ID.set(request_id)
        try:
            request = Request.from_event(event)
            request_id = request.request_id
            response = fn(request)
        except errors.LendingError as exc:
            response = error_response(exc, request_id)
        except Exception:  # noqa: BLE001 - last line of defence: never leak a traceback
            log.exception("unhandled error", extra={"request_id": request_id})
            response = problem(500, "Internal Server Error", "Something went wrong on our side.", request_id)
        finally:
            _CURRENT_REQUEST_ID.reset(current)
        return response.to_proxy(request_id)

    handle.__name__ = getattr(fn, "__name__", "handle")
    handle.__wrapped__ = fn  # type: ignore[attr-defined]
    return handle


def request_id_of(event: Mapping[str, Any]) -> str | None:
    """The request's id: X-Request-ID (from nginx or the caller), else API Gateway's request id.

    A value that is not short and plain is passed over; None when the event carries
    no usable id (the caller then makes one).
    """
    header = None
    for name, value in (event.get("headers") or {}).items():
        if name.lower() == "x-request-id":
            header = value
    if header is None:
        for name, values in (event.get("multiValueHeaders") or {}).items():
            if name.lower() == "x-request-id" and values:
                header = values[-1]
    for candidate in (header, (event.get("requestContext") or {}).get("requestId")):
        if isinstance(candidate, str) and _plain(candidate):
            return candidate
    return None


def _safe_request_id(value: str) -> str:
    """Accept a caller's request id only if it is short and plain; else make our own."""
    return value if _plain(value) else str(uuid.uuid4())


def _plain(value: str) -> bool:
    return 0 < len(value) <= 128 and all((c.isascii() and c.isalnum()) or c in "-_.:" for c in value)
