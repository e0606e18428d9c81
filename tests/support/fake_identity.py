"""Fakes for the unit tier: a verifier that knows its users by token, and an observer that remembers.

The real verifier is tested with real signed tokens against a served JWKS (tests/auth); these
stand in only where the use cases and handlers are the point.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from lending.errors import AuthenticationRequired, CredentialsMissing
from lending.model import User
from lending_http.messages import Request, Response
from lending_http.problems import outcome_of


class FakeVerifier:
    def __init__(self, *users: User) -> None:
        self.users = {u.subject: u for u in users}

    def authenticate(self, authorization: str | None) -> User:
        if not authorization:
            raise CredentialsMissing("Sign in: this needs a bearer token.")
        scheme, _, token = authorization.partition(" ")
        if scheme.lower() != "bearer" or token not in self.users:
            raise AuthenticationRequired("The token is not valid.")
        return self.users[token]


@dataclass
class RecordingObserver:
    requests: list[tuple[str, int, str]] = field(default_factory=list)
    jobs: list[tuple[str, dict[str, Any]]] = field(default_factory=list)

    def observe(self, operation: str, request: Request, response: Response, elapsed_ms: float) -> None:
        self.requests.append((operation, response.status, outcome_of(operation, response)))

    def job_done(self, job: str, result: dict[str, Any]) -> None:
        self.jobs.append((job, result))
