"""Bad input gets a precise 4xx with a problem body, never a 500 or a traceback, and writes nothing."""

from __future__ import annotations

import uuid

import pytest
import requests

from tests.conftest import Client, new_book, sql
from tests.support.money import intents_for_book

WRITTEN = ("SELECT (SELECT count(*) FROM payments), (SELECT count(*) FROM loans), (SELECT count(*) FROM purchases), "
           "(SELECT count(*) FROM books), (SELECT count(*) FROM book_status_history), (SELECT count(*) FROM idempotency_keys)")


def assert_problem(r: requests.Response, status: int) -> dict:
    assert r.status_code == status, r.text
    assert r.headers["Content-Type"] == "application/problem+json"
    body = r.json()
    assert body["status"] == status and body["title"] and body["detail"]
    assert "Traceback" not in r.text
    return body


@pytest.mark.parametrize("raw, why", [
    (b"{not json", "not valid JSON"),
    (b"[1, 2]", "JSON object"),
    (b"", "JSON object body"),
    (b'{"payment_method": 42}', "payment_method"),
    (b'{"payment_method": "visa; DROP TABLE books"}', "payment_method"),
    (b'{}', "payment_method"),
    (b"\xff\xfe", "not valid JSON"),
])
def test_a_malformed_borrow_is_400_and_writes_nothing(raw: bytes, why: str, alice: Client, librarian: Client,
                                                      pool) -> None:
    book = new_book(librarian)
    r = alice.session.post(f"{alice.base}/books/{book['book_id']}/borrow", data=raw,
                           headers={**alice.headers(), "Content-Type": "application/json"}, timeout=30)
    assert why in assert_problem(r, 400)["detail"]
    assert sql(pool, "SELECT count(*) FROM payments")[0][0] == 0
    assert alice.get(f"/books/{book['book_id']}").json()["status"] == "available"


@pytest.mark.parametrize("path", ["/books/{id}", "/books/{id}/borrow", "/books/{id}/purchase", "/books/{id}/return"])
@pytest.mark.parametrize("book_id", [str(uuid.uuid4()), "not-a-uuid", "1' OR '1'='1"])
def test_an_unknown_book_is_404(path: str, book_id: str, alice: Client, pool, stripe_url: str) -> None:
    url = path.format(id=requests.utils.quote(book_id, safe=""))
    r = alice.get(url) if path == "/books/{id}" else alice.post(url, {"payment_method": "pm_card_visa"})
    assert_problem(r, 404)
    assert sql(pool, WRITTEN) == [[0, 0, 0, 0, 0, 0]], "an unknown id wrote to the database"
    assert intents_for_book(stripe_url, book_id) == [], "an unknown id reached the processor"


def test_borrowing_a_sold_copy_is_409_and_makes_no_payment_row_or_intent(alice: Client, bob: Client, librarian: Client,
                                                                          pool, stripe_url: str) -> None:
    book = new_book(librarian)
    assert alice.post(f"/books/{book['book_id']}/purchase", {"payment_method": "pm_card_visa"}).status_code == 201
    payments = sql(pool, "SELECT payment_id, state, kind FROM payments WHERE book_id = CAST(:b AS uuid)", b=book["book_id"])
    intents = [pi.id for pi in intents_for_book(stripe_url, book["book_id"])]

    for attempt in ("borrow", "purchase"):
        refused = bob.post(f"/books/{book['book_id']}/{attempt}", {"payment_method": "pm_card_visa"})
        assert assert_problem(refused, 409)["detail"]

    assert sql(pool, "SELECT payment_id, state, kind FROM payments WHERE book_id = CAST(:b AS uuid)",
               b=book["book_id"]) == payments
    assert [row[1:] for row in payments] == [["captured", "purchase"]]
    assert [pi.id for pi in intents_for_book(stripe_url, book["book_id"])] == intents and len(intents) == 1
    assert sql(pool, "SELECT count(*) FROM loans WHERE book_id = CAST(:b AS uuid)", b=book["book_id"]) == [[0]]
    assert alice.get(f"/books/{book['book_id']}").json()["status"] == "sold"


@pytest.mark.parametrize("field, value", [
    ("isbn", "12345"), ("title", ""), ("title", 7), ("author", None), ("price_cents", "12.99"),
    ("price_cents", -1), ("borrow_fee_cents", 0), ("borrow_fee_cents", True), ("currency", "dollars"),
])
def test_a_librarian_adding_a_bad_book_gets_400_naming_the_field(field: str, value, librarian: Client, pool) -> None:
    body = {"isbn": "9780141439518", "title": "Emma", "author": "Jane Austen", "price_cents": 999,
            "borrow_fee_cents": 99, "currency": "usd", field: value}
    problem = assert_problem(librarian.post("/books", body), 400)
    assert problem["field"] == field
    assert sql(pool, "SELECT count(*) FROM books")[0][0] == 0


def test_a_patron_cannot_add_books(alice: Client, pool) -> None:
    body = {"isbn": "9780141439518", "title": "Emma", "author": "Jane Austen", "price_cents": 999, "borrow_fee_cents": 99}
    assert_problem(alice.post("/books", body), 403)
    assert sql(pool, "SELECT count(*) FROM books")[0][0] == 0


@pytest.mark.parametrize("query", ["status=misplaced", "limit=0", "limit=1000", "offset=-1", "limit=abc"])
def test_bad_catalogue_queries_are_400(query: str, anonymous: Client) -> None:
    assert_problem(anonymous.get(f"/books?{query}"), 400)


def test_the_catalogue_searches_filters_and_pages(anonymous: Client, librarian: Client, alice: Client) -> None:
    emma = new_book(librarian, title="Emma", isbn="9780141439587")
    new_book(librarian, title="Persuasion", isbn="9780141439686")
    new_book(librarian, title="Dracula", author="Bram Stoker", isbn="9780141439846")
    assert alice.post(f"/books/{emma['book_id']}/borrow", {"payment_method": "pm_card_visa"}).status_code == 201

    by_author = anonymous.get("/books?q=austen").json()
    assert by_author["total"] == 2
    assert anonymous.get("/books?q=978-0141439846").json()["items"][0]["title"] == "Dracula"
    available = anonymous.get("/books?q=austen&status=available").json()
    assert [b["title"] for b in available["items"]] == ["Persuasion"]
    first, second = anonymous.get("/books?limit=2").json(), anonymous.get("/books?limit=2&offset=2").json()
    assert first["total"] == 3 and len(first["items"]) == 2 and len(second["items"]) == 1
    assert {b["book_id"] for b in first["items"]}.isdisjoint({b["book_id"] for b in second["items"]})
    assert anonymous.get("/books?q=%25").json()["total"] == 0, "LIKE wildcards in the query are literal"


def test_health_and_readiness(anonymous: Client) -> None:
    assert anonymous.get("/health").json() == {"status": "ok"}
    assert anonymous.get("/ready").json()["status"] == "ready"
    assert anonymous.get("/version").json() == {"version": "test-version"}


@pytest.mark.parametrize("media_type", ["image/png", "text/xml", "application/vnd.unknown"])
def test_a_body_of_any_media_type_is_answered_by_the_service_as_on_every_host(media_type: str, alice: Client,
                                                                              librarian: Client, pool) -> None:
    """chalice local refused unlisted media types with its own 415 (not problem+json); the VM and Lambda
    pass them to the operation. Now chalice does too: the body is read as what it is."""
    book = new_book(librarian)
    r = alice.session.post(f"{alice.base}/books/{book['book_id']}/borrow", data=b"<borrow/>",
                           headers={**alice.headers(), "Content-Type": media_type}, timeout=30)
    assert "not valid JSON" in assert_problem(r, 400)["detail"]
    assert sql(pool, "SELECT count(*) FROM payments")[0][0] == 0
