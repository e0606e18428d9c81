"""The OpenAPI document is valid, served, complete, and the handlers keep to it.

Three ways a change to one side without the other fails here:
- a route in a function.json without an operation in the contract (or the reverse);
- a handler that can reach an error status (by what it calls) that its operations do
  not declare, or a status in lending_http.problems.STATUS_OF no operation declares;
- a response that breaks the contract: every response any test's `Client` receives is
  validated by tests.support.contract (status, headers, content type, schema with unknown
  fields refused), and the tests below prove that validator catches each kind of drift.
"""

from __future__ import annotations

import ast
import copy
import json
from pathlib import Path

import pytest
import requests
from openapi_spec_validator import validate
from openapi_spec_validator.versions.shortcuts import get_spec_version

from lending_http.problems import STATUS_OF
from tests.conftest import Client, new_book
from tests.support import contract

ROOT = Path(__file__).resolve().parents[2]
MANIFESTS = sorted((ROOT / "functions").glob("*/function.json"))

# What a handler declares or calls -> the statuses it can answer with (see lending_http.problems.STATUS_OF).
CAN_ANSWER = {
    "SIGNED_IN": {401, 503},               # caller=SIGNED_IN: AuthenticationRequired, IdentityProviderUnavailable
    "LIBRARIAN": {401, 403, 503},          # caller=LIBRARIAN: as SIGNED_IN, and NotAllowed for anyone else
    "store": {503},                        # call.store: DatabaseUnavailable
    "idempotent": {400, 409, 422},         # idempotent=True: bad Idempotency-Key, in progress, key reused
    "json": {400},                         # request.json(): not a JSON object
    "book_id": {404},                      # fields.book_id: not a UUID
    "find_book": {404},
    "borrow_book": {400, 402, 404, 409, 502, 503},
    "buy_book": {400, 402, 404, 409, 502, 503},
    "return_book": {403, 404, 409},
    "add_book": {403},
    "books_on_loan": {403},
    "isbn": {400}, "text": {400}, "cents": {400}, "currency": {400}, "bounded_int": {400},
    "InvalidRequest": {400},
    "verify_event": {400},
    # circulation (lending.circulation)
    "title_id": {404}, "loan_id": {404}, "hold_id": {404},   # fields: not a UUID
    "query_text": {400}, "flag": {400}, "optional_int": {400}, "optional_text": {400},
    "find_title": {404},
    "borrow_title": {400, 402, 404, 409, 502, 503},
    "place_hold": {404, 409},
    "cancel_hold": {404},
    "title_queue": {403, 404},
    "renew_loan": {400, 402, 404, 409, 502, 503},
    "apply_event": {502, 503},
}
# Routes of a handler that, by their path, never reach some of its calls.
NOT_REACHED = {
    ("GET", "/health"): {503}, ("GET", "/version"): {503},    # no database
    ("GET", "/books/{book_id}"): {400},                        # no query parameters read
    ("GET", "/books"): {404},                                  # no book id
    ("GET", "/loans"): {400, 409, 422},                        # no body, no Idempotency-Key
    ("GET", "/titles/{title_id}"): {400},                      # no query parameters read
    ("GET", "/titles"): {404},                                 # no title id
    ("GET", "/me/holds"): {400, 403, 404, 409, 422},           # no id, no body, no Idempotency-Key
    ("GET", "/titles/{title_id}/holds"): {400, 409, 422},      # no body, no Idempotency-Key
    ("POST", "/titles/{title_id}/holds"): {403},               # only the queue is for librarians
    ("DELETE", "/me/holds/{hold_id}"): {403},
    ("GET", "/me/notices"): {400}, ("GET", "/me/preferences"): {400},  # no body read
}


def _routes() -> list[tuple[str, str, str]]:
    return [(m, p, f.parent.name) for f in MANIFESTS for m, p in json.loads(f.read_text())["routes"]]


def _operations() -> list[tuple[str, str]]:
    return [(m.upper(), p) for p, item in contract.spec()["paths"].items() for m in item if m in contract.METHODS]


def test_the_contract_is_a_valid_openapi_3_1_document() -> None:
    spec = contract.spec()
    assert get_spec_version(spec).major == "3" and spec["openapi"].startswith("3.1")
    validate(spec)


def test_the_service_serves_the_contract_and_it_validates(api: str) -> None:
    r = requests.get(f"{api}/openapi.json", timeout=10)
    assert r.status_code == 200 and r.headers["Content-Type"] == "application/json"
    assert r.json() == contract.spec()
    validate(r.json())


def test_every_route_has_an_operation_and_every_operation_a_route() -> None:
    routes = {(m, p) for m, p, _ in _routes()}
    assert routes == set(_operations())


def test_every_operation_declares_the_statuses_its_handler_can_reach() -> None:
    missing = []
    for method, path, function in _routes():
        calls = _names_used(ROOT / "functions" / function / "handler.py")
        reachable = {500}.union(*(CAN_ANSWER[name] for name in calls if name in CAN_ANSWER))
        reachable -= NOT_REACHED.get((method, path), set())
        declared = {int(s) for s in contract.spec()["paths"][path][method.lower()]["responses"]}
        if reachable - declared:
            missing.append(f"{method} {path} ({function}): {sorted(reachable - declared)}")
    assert missing == []


def test_every_status_of_the_error_mapping_is_declared_somewhere_and_nothing_else_is() -> None:
    mapped = {status for status, _ in STATUS_OF.values()} | {500}
    declared_errors = {int(s) for _, p in _operations() for s in _responses(_, p) if int(s) >= 400}
    assert declared_errors == mapped


def test_error_responses_are_problem_documents_with_the_request_id_header() -> None:
    for method, path in _operations():
        for status, response in _responses(method, path).items():
            response = contract.resolve(response)
            assert "X-Request-ID" in response["headers"], (method, path, status)
            if int(status) >= 400:
                assert list(response["content"]) == ["application/problem+json"], (method, path, status)
            if int(status) == 503:
                assert "Retry-After" in response["headers"]


def test_state_changing_posts_take_an_idempotency_key_and_signed_in_routes_need_a_bearer_token() -> None:
    for method, path, function in _routes():
        op = contract.spec()["paths"][path][method.lower()]
        names = {contract.resolve(p)["name"] for p in op.get("parameters", [])}
        calls = _names_used(ROOT / "functions" / function / "handler.py")
        if "idempotent" in calls and method == "POST":
            assert "Idempotency-Key" in names, (method, path)
        assert bool(op["security"]) == bool({"SIGNED_IN", "LIBRARIAN"} & calls), (method, path)


# -- the validator itself catches drift -------------------------------------------------------
def test_the_validator_refuses_undeclared_statuses_fields_types_and_headers(librarian: Client) -> None:
    book = new_book(librarian)
    r = requests.get(f"{librarian.base}/books/{book['book_id']}", timeout=10)
    path, headers, body = f"/books/{book['book_id']}", dict(r.headers), r.json()
    assert contract.violations("GET", path, 200, headers, r.content) == []

    extra = {**body, "shelf": "B12"}
    assert any("shelf" in v for v in contract.violations("GET", path, 200, headers, json.dumps(extra).encode()))
    wrong_type = {**body, "price_cents": "12.99"}
    assert contract.violations("GET", path, 200, headers, json.dumps(wrong_type).encode())
    missing = {k: v for k, v in body.items() if k != "status"}
    assert contract.violations("GET", path, 200, headers, json.dumps(missing).encode())
    assert contract.violations("GET", path, 418, headers, r.content)
    assert contract.violations("GET", path, 200, {**headers, "Content-Type": "text/plain"}, r.content)
    no_id = {k: v for k, v in headers.items() if k.lower() != "x-request-id"}
    assert contract.violations("GET", path, 200, no_id, r.content)
    assert contract.violations("DELETE", path, 200, headers, r.content)


def test_a_problem_body_with_an_undeclared_field_or_wrong_status_breaks_the_contract(anonymous: Client) -> None:
    r = requests.get(f"{anonymous.base}/books/not-a-uuid", timeout=10)
    assert r.status_code == 404
    body = r.json()
    assert contract.violations("GET", "/books/x", 404, dict(r.headers), r.content) == []
    assert contract.violations("GET", "/books/x", 404, dict(r.headers), json.dumps({**body, "trace": "..."}).encode())
    assert contract.violations("GET", "/books/x", 404, dict(r.headers), json.dumps({**body, "status": 400}).encode())


def test_a_client_fails_its_test_on_a_response_outside_the_contract(api: str, monkeypatch: pytest.MonkeyPatch) -> None:
    strict = copy.deepcopy(contract.spec())
    del strict["paths"]["/health"]["get"]["responses"]["200"]
    monkeypatch.setattr(contract, "spec", lambda: strict)
    monkeypatch.setattr(contract, "seen", [])
    record = contract.since_now()
    with pytest.raises(AssertionError, match="status 200 is not declared"):
        Client(api).get("/health")
    assert len(record.violations()) == 1 and "status 200 is not declared" in record.violations()[0]


@pytest.fixture
def contract_record() -> contract.Record:
    """The responses this test's Clients receive and the violations among them: this test's own,
    whatever ran before (the session-wide `contract.seen` depends on the order tests ran in)."""
    return contract.since_now()


def test_every_response_of_a_sweep_of_the_api_keeps_to_the_contract(
        contract_record: contract.Record, anonymous: Client, alice: Client, librarian: Client) -> None:
    """Each operation as each kind of caller, successes and refusals: every response is validated; a
    violation does not stop the sweep (each is recorded), so the assertion lists them all."""
    book = new_book(librarian)
    on = f"/books/{book['book_id']}"
    pay = {"payment_method": "pm_card_visa"}
    calls: list[tuple[Client, str, str, dict[str, str] | None]] = [
        *[(anonymous, "GET", path, None) for path in ("/health", "/ready", "/version", "/openapi.json", "/docs",
                                                      "/books", "/books?limit=2", on, "/books/not-a-uuid",
                                                      "/me", "/me/loans", "/loans")],
        (anonymous, "POST", f"{on}/borrow", pay),
        (alice, "GET", "/me", None), (alice, "GET", "/loans", None),
        (alice, "POST", f"{on}/borrow", pay), (alice, "GET", "/me/loans", None), (alice, "POST", f"{on}/borrow", pay),
        (librarian, "GET", "/loans", None), (alice, "POST", f"{on}/return", None), (alice, "POST", f"{on}/return", None),
        (alice, "POST", f"{on}/purchase", pay), (alice, "GET", "/me/purchases", None), (alice, "GET", on, None),
    ]
    statuses = []
    for client, method, path, body in calls:
        try:
            statuses.append((client.get(path) if method == "GET" else client.post(path, body)).status_code)
        except AssertionError:  # the hook's: recorded in contract_record, listed below with the rest
            statuses.append(-1)
    assert contract_record.violations() == []
    assert contract_record.responses() == len(calls) + 1, statuses  # the + 1: new_book; every one checked
    assert {201, 200, 401, 404, 409} <= set(statuses), statuses  # successes and refusals, both checked


def _responses(method: str, path: str) -> dict[str, dict[str, object]]:
    return contract.spec()["paths"][path][method.lower()]["responses"]


def _names_used(handler: Path) -> set[str]:
    """What the handler calls (`fields.isbn(...)` -> "isbn"), the dependencies it uses (`call.store` -> "store")
    and what its operation declares (`caller=SIGNED_IN` -> "SIGNED_IN", `idempotent=True` -> "idempotent")."""
    names = set()
    for node in ast.walk(ast.parse(handler.read_text())):
        if isinstance(node, ast.Call):
            func = node.func
            names.add(func.id if isinstance(func, ast.Name) else func.attr if isinstance(func, ast.Attribute) else "")
            for keyword in node.keywords:
                if isinstance(keyword.value, ast.Constant) and keyword.value.value is True and keyword.arg:
                    names.add(keyword.arg)
                elif isinstance(keyword.value, ast.Name):
                    names.add(keyword.value.id)
        elif isinstance(node, ast.Attribute) and node.attr in ("store", "gateway"):
            names.add(node.attr)
    return names
