"""Our Request and Response: what every host builds from what it receives, and sends back.

The request id is settled here, once, when a host builds the Request: the caller's
X-Request-ID when it is short and plain, else the host's own id (API Gateway's), else a new one.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from lending import errors

PROBLEM = "application/problem+json"
JSON = "application/json"
_UNREAD: Any = object()
# On every response, whatever route or error: no MIME sniffing, no referrer, never framed.
SECURITY_HEADERS = {"X-Content-Type-Options": "nosniff", "Referrer-Policy": "no-referrer",
                    "Content-Security-Policy": "frame-ancestors 'none'"}


def request_id_from(header: str | None, host_id: str | None = None) -> str:
    """The one rule for a request's id: a plain caller's or host's id, else our own."""
    for candidate in (header, host_id):
        if isinstance(candidate, str) and _plain(candidate):
            return candidate
    return str(uuid.uuid4())


def _plain(value: str) -> bool:
    return 0 < len(value) <= 128 and all((c.isascii() and c.isalnum()) or c in "-_.:" for c in value)


@dataclass
class Request:
    method: str
    path: str
    headers: dict[str, str]  # lower-cased names
    query: dict[str, list[str]]
    path_params: dict[str, str]
    body: bytes
    request_id: str
    source_ip: str = ""
    _parsed: Any = field(default=_UNREAD, repr=False, compare=False)

    @classmethod
    def build(cls, *, method: str, path: str, headers: Mapping[str, str], query: Mapping[str, list[str]] | None = None,
              path_params: Mapping[str, str] | None = None, body: bytes = b"", host_request_id: str | None = None,
              source_ip: str = "") -> Request:
        """A request from a host's parts (`headers` with lower-cased names); the request id is fixed here."""
        return cls(method=method.upper(), path=path, headers=dict(headers), query=dict(query or {}),
                   path_params=dict(path_params or {}), body=body,
                   request_id=request_id_from(headers.get("x-request-id"), host_request_id), source_ip=source_ip)

    def json(self) -> dict[str, Any]:
        """The body as a JSON object, parsed once; anything else is a clear InvalidRequest."""
        value = self._value()
        if isinstance(value, errors.InvalidRequest):
            raise value
        if not isinstance(value, dict):
            raise errors.InvalidRequest("The body must be a JSON object.")
        return dict(value)

    def canonical_body(self) -> str:
        """The body as two requests are compared (idempotency): its JSON in canonical form, else its text."""
        if not self.body:
            return "null"
        value = self._value()
        if isinstance(value, errors.InvalidRequest):
            return self.body.decode("utf-8", "replace")
        return json.dumps(value, sort_keys=True, separators=(",", ":"))

    def _value(self) -> Any:
        """The body's JSON value, or the InvalidRequest it is: parsed once, whoever asks first."""
        if self._parsed is _UNREAD:
            self._parsed = _parse(self.body)
        return self._parsed

    def query_one(self, name: str) -> str | None:
        values = self.query.get(name)
        return values[-1] if values else None


def _parse(body: bytes) -> Any:
    if not body.strip():
        return errors.InvalidRequest("The request needs a JSON object body.")
    try:
        return json.loads(body)
    except (ValueError, UnicodeDecodeError):
        return errors.InvalidRequest("The body is not valid JSON.")
    except RecursionError:
        return errors.InvalidRequest("The body is nested too deeply.")


def encode(body: Any) -> bytes:
    if body is None:
        return b""
    if isinstance(body, bytes):
        return body
    if isinstance(body, str):
        return body.encode()
    return json.dumps(body, separators=(",", ":")).encode()


@dataclass
class Response:
    status: int
    body: Any = None
    headers: dict[str, str] = field(default_factory=dict)
    content_type: str = JSON
    outcome: str | None = None  # what a dashboard calls it ("lost_race", "declined", ...); set for problems
    _wire: bytes | None = field(default=None, repr=False, compare=False)

    def encoded(self) -> bytes:
        """The body's bytes, encoded once."""
        if self._wire is None:
            self._wire = encode(self.body)
        return self._wire

    def json(self) -> Any:
        """The body as data (tests and views; the wire form is `encoded`)."""
        if isinstance(self.body, bytes | str):
            return json.loads(self.body) if self.body else None
        return self.body

    def all_headers(self, request_id: str) -> dict[str, str]:
        """Every header sent: ours, then the security headers every response carries (unless it set its own)."""
        return {"Content-Type": self.content_type, "X-Request-ID": request_id, **SECURITY_HEADERS, **self.headers}
