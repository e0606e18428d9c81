"""Idempotency-Key for state-changing POSTs (the IETF httpapi draft's semantics).

The same key from the same user with the same request replays the first response;
with a different request it is 422. A duplicate that arrives while the first is
still running waits for its outcome (up to WAIT_SECONDS, then 409 "in progress").
A transient failure (503) releases the key so that a retry runs again.
"""

from __future__ import annotations

import hashlib
import time
from collections.abc import Callable

from lending import errors
from lending.correlation import time_left
from lending.model import User
from lending.ports import LendingStore, StoredResponse
from lending_http.messages import Request, Response
from lending_http.problems import error_response

TRANSIENT = (errors.PaymentProcessorUnavailable, errors.DatabaseUnavailable,
             errors.IdentityProviderUnavailable)
STALE_AFTER_SECONDS = 300.0
WAIT_SECONDS = 15.0
POLL_SECONDS = 0.05


def key_of(request: Request) -> str | None:
    key = request.headers.get("idempotency-key")
    if key is None:
        return None
    key = key.strip().strip('"')
    if not 1 <= len(key) <= 255 or not key.isprintable():
        raise errors.InvalidRequest("Idempotency-Key must be 1 to 255 printable characters.")
    return key


def fingerprint(request: Request) -> str:
    return hashlib.sha256(f"{request.method} {request.path}\n{request.canonical_body()}".encode()).hexdigest()


def run_once(store: LendingStore, user: User, request: Request, run: Callable[[], Response],
             *, stale_after_seconds: float = STALE_AFTER_SECONDS, wait_seconds: float = WAIT_SECONDS) -> Response:
    key = key_of(request)
    if key is None:
        return run()
    mine = fingerprint(request)
    deadline = time.monotonic() + time_left(wait_seconds)  # never past the request's budget
    while True:
        claim = store.claim_idempotency_key(user, key, mine, stale_after_seconds)
        if claim.fingerprint != mine:
            raise errors.IdempotencyKeyReused("This Idempotency-Key was used for a different request.")
        if claim.owned:
            break
        if claim.response is not None:
            stored = claim.response
            return Response(stored.status, stored.body, {"Idempotent-Replayed": "true"}, stored.content_type)
        # The first request is still running: wait for its outcome rather than run twice.
        if time.monotonic() >= deadline:
            raise errors.RequestInProgress("A request with this Idempotency-Key is still in progress.")
        time.sleep(POLL_SECONDS)
    try:
        response = run()
    except TRANSIENT:
        store.release_idempotency_key(user, key)
        raise
    except errors.LendingError as exc:
        response = error_response(exc, request.request_id)
    except BaseException:
        store.release_idempotency_key(user, key)
        raise
    body = response.encoded().decode()  # what is stored is exactly what is sent
    store.finish_idempotency_key(user, key, StoredResponse(response.status, body, response.content_type))
    return response
