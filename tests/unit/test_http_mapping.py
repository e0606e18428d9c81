"""One mapping from domain errors to HTTP, used by every host; idempotency rules."""

from __future__ import annotations

import json

import pytest

from lending import errors
from lending.model import User
from lending_http import idempotency, operation
from lending_http.bootstrap import bootstrap
from lending_http.messages import Request, Response
from lending_http.problems import STATUS_OF, error_response
from lending_settings import Settings
from tests.support.fakes import FakeStore


def all_errors() -> list[type[errors.LendingError]]:
    found, todo = [], [errors.LendingError]
    while todo:
        for sub in todo.pop().__subclasses__():
            found.append(sub)
            todo.append(sub)
    return found


@pytest.mark.parametrize("kind", all_errors(), ids=lambda k: k.__name__)
def test_every_domain_error_has_a_deliberate_status(kind: type[errors.LendingError]) -> None:
    response = error_response(kind("why"), "req-1")
    assert response.status != 500, f"{kind.__name__} is not mapped"
    assert response.content_type == "application/problem+json"
    assert response.body["detail"] == "why" and response.body["request_id"] == "req-1"


def test_401_carries_a_bearer_challenge_and_503_a_retry_after() -> None:
    assert error_response(errors.AuthenticationRequired('bad "x"'), "r").headers["WWW-Authenticate"].startswith(
        'Bearer realm="library-lending", error="invalid_token", error_description="bad')
    # RFC 6750 3.1: a request with no credentials gets a challenge without an error code.
    assert error_response(errors.CredentialsMissing("none"), "r").headers["WWW-Authenticate"] == \
        'Bearer realm="library-lending"'
    assert error_response(errors.DatabaseUnavailable("down"), "r").headers["Retry-After"].isdigit()


def serve(run: object, headers: dict[str, str]) -> dict:
    """An operation served the way every host serves one, on no adapters at all."""
    request = Request.build(method="GET", path="/x", headers=headers)
    response = operation("probe")(run).serve(request, bootstrap(Settings(), layers=()).scoped(()))
    return {"statusCode": response.status, "headers": response.all_headers(request.request_id),
            "body": response.encoded().decode()}


def test_an_unexpected_exception_is_a_500_problem_without_a_traceback() -> None:
    def broken(call: object) -> Response:
        raise RuntimeError("secret internals")

    result = serve(broken, {"x-request-id": "abc"})
    assert result["statusCode"] == 500
    assert "secret internals" not in result["body"] and "Traceback" not in result["body"]
    assert result["headers"]["X-Request-ID"] == "abc"
    assert STATUS_OF  # the mapping exists and is shared


def test_a_hostile_request_id_is_replaced() -> None:
    def ok(call: object) -> Response:
        return Response(200, {"id": call.request.request_id})  # type: ignore[attr-defined]

    result = serve(ok, {"x-request-id": "a\nb" * 100})
    assert "\n" not in result["headers"]["X-Request-ID"]


def request(body: dict, key: str = "k1") -> Request:
    return Request("POST", "/books/1/borrow", {"idempotency-key": key}, {}, {}, json.dumps(body).encode(), "r")


def test_replay_and_mismatch() -> None:
    store, user, runs = FakeStore(), User("i", "s"), []

    def run() -> Response:
        runs.append(1)
        return Response(201, {"n": len(runs)})

    first = idempotency.run_once(store, user, request({"a": 1}), run)
    again = idempotency.run_once(store, user, request({"a": 1}), run)
    assert (first.status, first.body) == (201, {"n": 1})
    assert (again.status, json.loads(again.body)) == (201, {"n": 1}) and runs == [1]
    with pytest.raises(errors.IdempotencyKeyReused):
        idempotency.run_once(store, user, request({"a": 2}), run)


def test_a_transient_failure_frees_the_key_for_a_retry() -> None:
    store, user = FakeStore(), User("i", "s")

    def down() -> Response:
        raise errors.PaymentProcessorUnavailable("down")

    with pytest.raises(errors.PaymentProcessorUnavailable):
        idempotency.run_once(store, user, request({"a": 1}), down)
    assert idempotency.run_once(store, user, request({"a": 1}), lambda: Response(201, {})).status == 201


def test_a_duplicate_gives_up_waiting_with_409() -> None:
    store, user = FakeStore(), User("i", "s")
    store.claim_idempotency_key(user, "k1", idempotency.fingerprint(request({"a": 1})), 300)
    with pytest.raises(errors.RequestInProgress):
        idempotency.run_once(store, user, request({"a": 1}), lambda: Response(201, {}), wait_seconds=0.1)


def test_settings_never_show_a_secret_in_their_repr() -> None:
    from lending_settings import from_env

    settings = from_env({"DATABASE_URL": "postgresql://u:hunter2@db.internal/lending", "OIDC_ISSUER": "http://i",
                         "OIDC_AUDIENCE": "a", "STRIPE_API_KEY": "sk_test_abc", "STRIPE_WEBHOOK_SECRET": "whsec_xyz"})
    shown = repr(settings)
    assert "hunter2" not in shown and "sk_test_abc" not in shown and "whsec_xyz" not in shown
