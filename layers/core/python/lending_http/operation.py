"""An operation is a declaration: its name, who may call it, and the use case it runs.

    @operation("borrow", caller=SIGNED_IN, idempotent=True)
    def handle(call: Call) -> Response: ...

`Operation.serve(request, deps)` is the one way in for every host: it fixes the request's id for
the adapters, authenticates the caller, runs once per Idempotency-Key, maps every error to one
problem+json answer, and tells the observer. Handlers never build their dependencies.
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta
from enum import Enum
from typing import Any, Protocol

from lending import errors
from lending.clock import Clock
from lending.correlation import working_for
from lending.model import User
from lending.notice_ports import Mailer
from lending.ports import LendingStore, PaymentGateway
from lending_http import idempotency
from lending_http.messages import Request, Response
from lending_http.problems import error_response, internal_error
from lending_settings import Settings

log = logging.getLogger("lending.http")


class Caller(Enum):
    ANYONE = "anyone"
    SIGNED_IN = "signed_in"
    LIBRARIAN = "librarian"  # signed in, and a librarian: anyone else is 403 before the request is read


ANYONE, SIGNED_IN, LIBRARIAN = Caller.ANYONE, Caller.SIGNED_IN, Caller.LIBRARIAN


class Scope(Protocol):
    """What a handler may ask for (see lending_http.bootstrap): only its declared layers' adapters."""

    @property
    def settings(self) -> Settings: ...
    @property
    def store(self) -> LendingStore: ...
    @property
    def gateway(self) -> PaymentGateway: ...
    @property
    def clock(self) -> Clock: ...
    @property
    def mailer(self) -> Mailer: ...
    def authenticate(self, authorization: str | None) -> User: ...
    def observe(self, operation: str, request: Request, response: Response, elapsed_ms: float) -> None: ...
    def job_done(self, job: str, result: dict[str, Any]) -> None: ...


@dataclass
class Call:
    """One call of an operation: the request, the caller, and the dependencies the handler may use."""

    request: Request
    deps: Scope
    caller_user: User | None = None

    @property
    def caller(self) -> User:
        assert self.caller_user is not None, "the operation does not authenticate its caller"
        return self.caller_user

    @property
    def store(self) -> LendingStore:
        return self.deps.store

    @property
    def gateway(self) -> PaymentGateway:
        return self.deps.gateway

    @property
    def settings(self) -> Settings:
        return self.deps.settings

    @property
    def clock(self) -> Clock:
        return self.deps.clock

    @property
    def path_params(self) -> dict[str, str]:
        return self.request.path_params

    @property
    def idempotency_key(self) -> str | None:
        return idempotency.key_of(self.request)

    def json(self) -> dict[str, Any]:
        return self.request.json()


Run = Callable[[Call], Response]


@dataclass(frozen=True)
class Operation:
    name: str
    run: Run
    caller: Caller = ANYONE
    idempotent: bool = False  # state-changing methods honour Idempotency-Key

    def serve(self, request: Request, deps: Scope) -> Response:
        started = time.perf_counter()
        with working_for(request.request_id, deps.settings.request_budget.total_seconds()):
            try:
                response = self._call(request, deps)
            except errors.LendingError as exc:
                response = error_response(exc, request.request_id)
            except Exception:  # noqa: BLE001 - last line of defence: never leak a traceback
                log.exception("unhandled error", extra={"request_id": request.request_id})
                response = internal_error(request.request_id)
        deps.observe(self.name, request, response, (time.perf_counter() - started) * 1000)
        return response

    def _call(self, request: Request, deps: Scope) -> Response:
        caller = deps.authenticate(request.headers.get("authorization")) if self.caller is not ANYONE else None
        if self.caller is LIBRARIAN and caller is not None and not caller.is_librarian:
            raise errors.NotAllowed("Only librarians may do this.")
        call = Call(request, deps, caller)
        if self.idempotent and caller is not None and request.method not in ("GET", "HEAD"):
            return idempotency.run_once(deps.store, caller, request, lambda: self.run(call))
        return self.run(call)


def operation(name: str, *, caller: Caller = ANYONE, idempotent: bool = False) -> Callable[[Run], Operation]:
    def declare(run: Run) -> Operation:
        return Operation(name, run, caller, idempotent)

    return declare


DUE_SLACK = 0.1  # a run this much of its period early still counts as due (timers drift, hosts take turns)
LOCKED, NOT_DUE = "another run holds the lock", "not due"
RESERVED = frozenset({"outcome", "reason", "error", "duration_ms", "skipped", "job"})  # what the framework adds


@dataclass(frozen=True)
class Job:
    """A scheduled operation (no HTTP): reconcile, retention, expire holds, ...

    `run(deps, **options)` does the work and returns its counts (no key of RESERVED); it must be
    idempotent (a run that finds nothing to do does nothing). `run_once` makes it one run at a time
    on the whole estate, and tells the observer `{"outcome": "finished" | "skipped" | "failed", ...}`.
    """

    name: str
    run: Callable[..., dict[str, Any]]  # run(deps, **options)

    def run_once(self, deps: Scope, *, due_every: timedelta | None = None, **options: Any) -> dict[str, Any]:
        """One run under the job's lock (the store's `job_turn`), logged as one line with a metric.

        A second run at the same moment, from any host, skips and says so (`{"skipped": ...}`). With
        `due_every`, a run within that period of the last finished one skips as not due.
        """
        with working_for(f"job-{self.name}-{time.time_ns()}"):
            started = time.monotonic()
            try:
                result = self._turn(deps, due_every, options)
            except Exception as exc:
                deps.job_done(self.name, {"outcome": "failed", "error": type(exc).__name__,
                                          "duration_ms": _ms_since(started)})
                raise
            if "skipped" in result:
                told = {"outcome": "skipped", "reason": result["skipped"]}
            else:
                told = {"outcome": "finished", **result}
            deps.job_done(self.name, {**told, "duration_ms": _ms_since(started)})
        return result

    def _turn(self, deps: Scope, due_every: timedelta | None, options: dict[str, Any]) -> dict[str, Any]:
        with deps.store.job_turn(self.name) as turn:
            if turn is None:
                return {"skipped": LOCKED}
            last = turn.last_finished
            if due_every is not None and last is not None and deps.clock.now() - last < due_every * (1 - DUE_SLACK):
                return {"skipped": NOT_DUE, "last_finished": last.isoformat()}
            result = self.run(deps, **options)
            clash = RESERVED & set(result)
            if clash:
                raise ValueError(f"job {self.name}'s result uses reserved key(s) {sorted(clash)}")
            turn.finished(json.dumps(result, default=str))
            return result


def _ms_since(started: float) -> float:
    return round((time.monotonic() - started) * 1000, 2)


def job(name: str) -> Callable[[Callable[..., dict[str, Any]]], Job]:
    def declare(run: Callable[..., dict[str, Any]]) -> Job:
        return Job(name, run)

    return declare
