"""The adapter keeps Chalice's contract: the same request through gunicorn + vm_runtime and through
Chalice's own test client (`chalice.test.Client` on app.py's app) gives the same response.

The adapter side is a real gunicorn instance of the VM (nginx bypassed, so nothing else could
make the two agree); the Chalice side runs in this process on the same database, processor
and issuer.
"""

from __future__ import annotations

import importlib
import json
import os
from collections.abc import Iterator
from typing import Any

import pytest
import requests
from chalice.test import Client as ChaliceClient

import lending_settings as config
from dev.vm_stack import LocalVM
from tests.conftest import Client, new_book
from tests.support.issuer import TestIssuer

RELEVANT_HEADERS = ("content-type", "x-request-id", "www-authenticate", "retry-after", "idempotent-replayed")


@pytest.fixture(scope="module")
def chalice(service_env: dict[str, str]) -> Iterator[ChaliceClient]:
    saved = {k: os.environ.get(k) for k in service_env}
    os.environ.update(service_env)
    config.settings.cache_clear()
    app = importlib.import_module("app").app
    with ChaliceClient(app) as client:
        yield client
    for key, value in saved.items():
        if value is None:
            os.environ.pop(key, None)
        else:
            os.environ[key] = value
    config.settings.cache_clear()


class Both:
    """Sends one request to each host and holds both answers."""

    def __init__(self, instance_url: str, chalice: ChaliceClient) -> None:
        self.instance_url = instance_url
        self.chalice = chalice

    def ours(self, method: str, path: str, headers: dict[str, str] | None = None,
             body: bytes = b"") -> tuple[int, dict[str, str], bytes]:
        r = requests.request(method, self.instance_url + path, headers=_with_id(headers), data=body, timeout=30)
        return r.status_code, _relevant(r.headers), r.content

    def theirs(self, method: str, path: str, headers: dict[str, str] | None = None,
               body: bytes = b"") -> tuple[int, dict[str, str], bytes]:
        r = self.chalice.http.request(method, path, headers=_with_id(headers), body=body)
        return r.status_code, _relevant(r.headers), r.body

    def send(self, method: str, path: str, headers: dict[str, str] | None = None,
             body: bytes = b"") -> tuple[tuple[int, dict[str, str], bytes], tuple[int, dict[str, str], bytes]]:
        return self.ours(method, path, headers, body), self.theirs(method, path, headers, body)

    def same(self, method: str, path: str, headers: dict[str, str] | None = None, body: bytes = b"") -> tuple[int, bytes]:
        ours, theirs = self.send(method, path, headers, body)
        assert ours == theirs
        return ours[0], ours[2]


def _with_id(headers: dict[str, str] | None) -> dict[str, str]:
    return {"X-Request-ID": "contract-check-1", **(headers or {})}


def _relevant(headers: Any) -> dict[str, str]:
    return {k.lower(): v for k, v in dict(headers).items() if k.lower() in RELEVANT_HEADERS}


@pytest.fixture
def both(vm: LocalVM, chalice: ChaliceClient, store) -> Both:
    return Both(vm.instances[0].url, chalice)


def test_lifecycle_endpoints_answer_the_same(both: Both) -> None:
    assert both.same("GET", "/health") == (200, b'{"status":"ok"}')
    assert both.same("GET", "/version") == (200, b'{"version":"test-version"}')
    assert both.same("GET", "/ready")[0] == 200


def test_path_parameters_and_repeated_query_keys_reach_the_handler_alike(both: Both, librarian: Client) -> None:
    pride = new_book(librarian)
    new_book(librarian, title="Emma", isbn="9780141439587")
    status, body = both.same("GET", f"/books/{pride['book_id']}")
    assert status == 200 and json.loads(body)["title"] == "Pride and Prejudice"
    status, body = both.same("GET", "/books?q=Emma&q=Pride&limit=50&limit=1")  # last value wins, as on Lambda
    assert status == 200 and [b["title"] for b in json.loads(body)["items"]] == ["Pride and Prejudice"]
    assert both.same("GET", "/books?q=&status=misplaced")[0] == 400
    assert both.same("GET", "/books/not-a-uuid")[0] == 404
    assert both.same("GET", f"/books/{pride['book_id']}/")[0] == 200  # trailing slash dropped, as API Gateway does


def test_bodies_text_binary_and_malformed_reach_the_handler_alike(both: Both, issuer: TestIssuer) -> None:
    auth = {"Authorization": f"Bearer {issuer.token('libby', librarian=True)}", "Content-Type": "application/json"}
    assert both.same("POST", "/books", auth, b'{"isbn": "123"}')[0] == 400
    assert both.same("POST", "/books", auth, b"{not json")[0] == 400
    assert both.same("POST", "/books", auth, b"\xff\xfe\x00binary")[0] == 400  # base64 in the event on both
    assert both.same("POST", "/books", auth, "[\"ünïcödé\"]".encode())[0] == 400
    assert both.same("POST", "/books", auth, b"")[0] == 400


def test_authentication_errors_carry_the_same_problem_and_headers(both: Both, issuer: TestIssuer) -> None:
    book = "00000000-0000-4000-8000-000000000000"
    status, _ = both.same("POST", f"/books/{book}/borrow", {"Content-Type": "application/json"}, b"{}")
    assert status == 401
    assert both.same("POST", f"/books/{book}/borrow", {"Authorization": "Bearer not.a.token"}, b"{}")[0] == 401
    patron = {"Authorization": f"Bearer {issuer.token('alice')}", "Content-Type": "application/json"}
    assert both.same("GET", "/loans", patron)[0] == 403
    assert both.same("GET", "/me", patron)[0] == 200
    assert both.same("POST", f"/books/{book}/borrow", patron, b'{"payment_method": "pm_card_visa"}')[0] == 404


def test_the_request_id_rule_is_the_same(both: Both) -> None:
    for given in ("abc-123", "with spaces are replaced", "x" * 200):
        ours, theirs = both.send("GET", "/health", {"X-Request-ID": given})
        if given == "abc-123":
            assert ours == theirs and ours[1]["x-request-id"] == given
        else:  # each host makes its own id, with the same rule
            assert ours[1]["x-request-id"] != given and theirs[1]["x-request-id"] != given


def test_a_borrow_and_its_idempotent_replay_answer_alike(both: Both, librarian: Client, issuer: TestIssuer) -> None:
    first, second = new_book(librarian), new_book(librarian)
    patron = {"Authorization": f"Bearer {issuer.token('alice')}", "Content-Type": "application/json"}
    body = b'{"payment_method": "pm_card_visa"}'
    path_1, path_2 = f"/books/{first['book_id']}/borrow", f"/books/{second['book_id']}/borrow"
    ours = both.ours("POST", path_1, {**patron, "Idempotency-Key": "key-1"}, body)
    theirs = both.theirs("POST", path_2, {**patron, "Idempotency-Key": "key-2"}, body)
    assert ours[0] == 201 and _shape(ours) == _shape(theirs)
    # Each host replays the borrow the other one made: the stored response, marked as a replay.
    replay_ours = both.ours("POST", path_2, {**patron, "Idempotency-Key": "key-2"}, body)
    replay_theirs = both.theirs("POST", path_1, {**patron, "Idempotency-Key": "key-1"}, body)
    assert replay_ours[1]["idempotent-replayed"] == "true" and _shape(replay_ours) == _shape(replay_theirs)
    assert replay_ours[2] == theirs[2] and replay_theirs[2] == ours[2]


def test_unknown_routes_are_problems_on_the_vm(vm: LocalVM) -> None:
    """Deliberately not Chalice's: it answers 403 {"message": "Missing Authentication Token"} (API Gateway's
    answer); the VM answers with the service's own problem+json, 404 or 405 with Allow."""
    missing = requests.get(f"{vm.instances[0].url}/no/such/route", timeout=10)
    assert missing.status_code == 404 and missing.headers["Content-Type"] == "application/problem+json"
    wrong = requests.delete(f"{vm.instances[0].url}/books", timeout=10)
    assert wrong.status_code == 405 and wrong.headers["Allow"] == "GET, POST"
    assert wrong.json()["status"] == 405


def _shape(answer: tuple[int, dict[str, str], bytes]) -> tuple[int, dict[str, str], Any]:
    status, headers, raw = answer
    return status, headers, _masked(json.loads(raw))


def _masked(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: ("<generated>" if k == "id" or k.endswith(("_id", "_at")) else _masked(v)) for k, v in value.items()}
    if isinstance(value, list):
        return [_masked(v) for v in value]
    return value


def test_through_nginx_an_encoded_slash_stays_inside_its_path_segment(vm: LocalVM) -> None:
    """granian decodes PATH_INFO; nginx's X-Original-URI keeps the path as sent, as API Gateway does."""
    one_segment = requests.get(f"{vm.url}/books/not%2Fa-uuid", timeout=10)
    two_segments = requests.get(f"{vm.url}/books/not/a-uuid", timeout=10)
    assert one_segment.json()["title"] == "Book Not Found", one_segment.text  # the book route, with its id as sent
    assert "not%2Fa-uuid" in one_segment.json()["detail"]
    assert two_segments.status_code == 404 and two_segments.json()["title"] != "Book Not Found"  # no such route
    assert one_segment.headers["Content-Type"] == two_segments.headers["Content-Type"] == "application/problem+json"
