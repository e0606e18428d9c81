"""Input built to break things gets a clear 4xx and changes nothing (issue 19, items 8, 15, 16, 18, 19).

Through `chalice local` as `make run` serves it, on the real database and processor.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest
import requests

from tests.conftest import Client, new_book, sql
from tests.support import contract

PROBLEM = "application/problem+json"


def books_in(pool: object) -> int:
    return int(sql(pool, "SELECT count(*) FROM books")[0][0])  # type: ignore[arg-type]


@pytest.mark.parametrize("method", ["TRACE", "CONNECT", "PROPFIND", "BREW"])
def test_an_unknown_method_is_405_problem_with_allow(api: str, method: str) -> None:
    r = requests.request(method, f"{api}/books", timeout=10)
    assert r.status_code == 405 and r.headers["Content-Type"] == PROBLEM
    assert r.headers["Allow"] == "GET, POST" and r.json()["status"] == 405


def test_an_unknown_route_is_404_problem_and_a_wrong_method_405(api: str) -> None:
    missing = requests.get(f"{api}/nowhere", timeout=10)
    assert missing.status_code == 404 and missing.headers["Content-Type"] == PROBLEM
    wrong = requests.delete(f"{api}/books", timeout=10)
    assert wrong.status_code == 405 and wrong.headers["Allow"] == "GET, POST"


@pytest.mark.parametrize("path", ["/books", "/nowhere", "/openapi.json", "/health", "/me"])
def test_every_response_carries_the_security_headers(api: str, path: str) -> None:
    r = requests.get(f"{api}{path}", timeout=10)
    assert r.headers["X-Content-Type-Options"] == "nosniff" and r.headers["Referrer-Policy"] == "no-referrer"
    assert "frame-ancestors 'none'" in r.headers["Content-Security-Policy"]


def test_the_docs_page_has_a_policy_that_allows_nothing_but_its_own_style(api: str) -> None:
    policy = requests.get(f"{api}/docs", timeout=10).headers["Content-Security-Policy"]
    assert "default-src 'none'" in policy and "style-src 'sha256-" in policy and "script-src" not in policy


@pytest.mark.parametrize("key", [None, "deep-1"])
def test_deeply_nested_json_is_a_400(alice: Client, librarian: Client, pool: object, key: str | None) -> None:
    book = new_book(librarian)
    nested = b"[" * 100_000 + b"]" * 100_000
    headers = {"Content-Type": "application/json", **({"Idempotency-Key": key} if key else {})}
    r = alice.session.post(f"{alice.base}/books/{book['book_id']}/borrow", data=nested, timeout=30,
                           headers=alice.headers(headers))
    assert r.status_code == 400 and "nested too deeply" in r.json()["detail"]
    assert sql(pool, "SELECT count(*) FROM payments")[0][0] == 0  # type: ignore[arg-type]


@pytest.mark.parametrize(("raw", "field"), [
    (b'{"title": "Pride\\u0000and Prejudice"}', "title"),
    (b'{"title": "Pride \\ud800 Prejudice"}', "title"),
    (b'{"author": "Jane\\u0007Austen"}', "author"),
])
def test_control_characters_and_lone_surrogates_are_refused(librarian: Client, pool: object, raw: bytes,
                                                            field: str) -> None:
    body = {"isbn": "9780141439518", "title": "T", "author": "A", "price_cents": 1299, "borrow_fee_cents": 199,
            **json.loads(raw)}
    before = books_in(pool)
    r = librarian.session.post(f"{librarian.base}/books", data=json.dumps(body), timeout=30,
                               headers=librarian.headers({"Content-Type": "application/json"}))
    assert r.status_code == 400 and r.json()["field"] == field and "control characters" in r.json()["detail"]
    assert books_in(pool) == before


@pytest.mark.parametrize(("change", "field", "says"), [
    ({"currency": "xyz"}, "currency", "not an ISO 4217 currency"),
    ({"currency": "xau"}, "currency", "not a currency money can be charged in"),
    ({"currency": "krw"}, "currency", "not one the payment processor takes"),
    ({"borrow_fee_cents": 49}, "borrow_fee_cents", "at least 50"),
    ({"currency": "gbp", "price_cents": 29}, "price_cents", "at least 30"),
    ({"currency": "jpy", "price_cents": 1500, "borrow_fee_cents": 49}, "borrow_fee_cents", "at least 50"),
    ({"currency": "huf", "price_cents": 250_050, "borrow_fee_cents": 20_000}, "price_cents", "multiple of 100"),
])
def test_currencies_and_amounts_the_processor_would_refuse_are_400(librarian: Client, pool: object,
                                                                   change: dict, field: str, says: str) -> None:
    before = books_in(pool)
    r = librarian.post("/books", {"isbn": "9780141439518", "title": "T", "author": "A", "price_cents": 1299,
                                  "borrow_fee_cents": 199, "currency": "usd", **change})
    assert r.status_code == 400 and r.json()["field"] == field and says in r.json()["detail"]
    assert books_in(pool) == before


def test_a_zero_decimal_currency_takes_whole_yen(librarian: Client) -> None:
    book = new_book(librarian, currency="jpy", price_cents=1500, borrow_fee_cents=50)
    assert (book["currency"], book["price_cents"], book["borrow_fee_cents"]) == ("jpy", 1500, 50)


def test_a_request_id_that_breaks_the_rule_is_replaced_as_the_contract_says(api: str) -> None:
    r = requests.get(f"{api}/health", headers={"X-Request-ID": "not plain!"}, timeout=10)
    assert r.status_code == 200 and r.headers["X-Request-ID"] != "not plain!"
    parameter = contract.spec()["components"]["parameters"]["RequestId"]
    assert "pattern" not in parameter["schema"] and "replaced" in parameter["description"]


@pytest.mark.parametrize("value", ["prod", "Production", "staging", "dev"])
def test_an_unknown_app_env_stops_start_up(service_env: dict[str, str], value: str) -> None:
    env = {**os.environ, **service_env, "APP_ENV": value}
    run = subprocess.run([sys.executable, "-c", "import app"], env=env, capture_output=True, text=True, timeout=60)
    assert run.returncode != 0 and "APP_ENV must be one of development, test, production" in run.stderr


@pytest.mark.parametrize("value", ["LOUD", "trace", "20"])
def test_an_unknown_log_level_stops_start_up(service_env: dict[str, str], value: str) -> None:
    env = {**os.environ, **service_env, "LOG_LEVEL": value}
    run = subprocess.run([sys.executable, "-c", "import app"], env=env, capture_output=True, text=True, timeout=60)
    assert run.returncode != 0 and "LOG_LEVEL must be one of DEBUG, INFO, WARNING, ERROR, CRITICAL" in run.stderr
    assert "Traceback" not in run.stderr
