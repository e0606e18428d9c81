"""The librarian's desk through HTTP: catalogue edits, withdrawal, check-in by barcode routing a copy to the
next hold, a price change that leaves an open loan's payment alone, and 403 for a patron on every route."""

from __future__ import annotations

from typing import Any

import pytest

from tests.conftest import Client, sql
from tests.e2e.desk_support import CARD, desk_title, patch
from tests.support import marc_files as m
from tests.support.money import stripe_client


def test_a_title_is_made_by_isbn_10_or_13_once_and_its_copies_get_barcodes(librarian: Client) -> None:
    isbn = m.new_isbn13()
    made = librarian.post("/titles", {"isbn": m.to_isbn10(isbn), "title": "Emma", "author": "Jane Austen",
                                      "language": "en", "publication_year": 1815})
    assert made.status_code == 201 and made.json()["isbn"] == isbn, made.text
    assert made.headers["Location"] == f"/titles/{made.json()['title_id']}"
    again = librarian.post("/titles", {"isbn": isbn, "title": "Emma", "author": "Jane Austen"})
    assert (again.status_code, again.json()["reason"]) == (409, "duplicate_isbn")
    bad = librarian.post("/titles", {"isbn": m.bad_check_digit(isbn), "title": "Emma", "author": "Jane Austen"})
    assert (bad.status_code, bad.json()["field"]) == (400, "isbn")

    title_id, code = made.json()["title_id"], m.new_barcode()
    added = librarian.post(f"/titles/{title_id}/copies", {"copies": [
        {"barcode": code, "price_cents": 999, "borrow_fee_cents": 99},
        {"price_cents": 999, "borrow_fee_cents": 99}]})
    assert added.status_code == 201, added.text
    first, second = added.json()["items"]
    assert first["barcode"] == code and second["barcode"] and second["barcode"] != code
    taken = librarian.post(f"/titles/{title_id}/copies", {"barcode": code, "price_cents": 999, "borrow_fee_cents": 99})
    assert (taken.status_code, taken.json()["reason"]) == (409, "duplicate_barcode")
    renamed = patch(librarian, f"/books/{second['book_id']}", {"barcode": code})
    assert (renamed.status_code, renamed.json()["reason"]) == (409, "duplicate_barcode")
    assert librarian.get(f"/titles/{title_id}").json()["copies_total"] == 2  # the refused one added nothing

    edited = patch(librarian, f"/titles/{title_id}", {"title": "Emma: A Novel", "description": "In three volumes."})
    assert edited.status_code == 200 and edited.json()["title"] == "Emma: A Novel", edited.text
    assert librarian.get(f"/books/{first['book_id']}").json()["title"] == "Emma: A Novel"
    assert patch(librarian, f"/titles/{title_id}", {"copies_total": 9}).status_code == 400
    assert patch(librarian, "/titles/00000000-0000-0000-0000-000000000000", {"title": "X"}).status_code == 404


def test_check_in_by_barcode_routes_the_copy_to_the_next_in_line(librarian: Client, alice: Client,
                                                                 bob: Client) -> None:
    title_id, (copy,) = desk_title(librarian)
    assert alice.post(f"/books/{copy['book_id']}/borrow", CARD).status_code == 201
    assert bob.post(f"/titles/{title_id}/holds").status_code == 201

    done = librarian.post("/desk/checkin", {"barcode": copy["barcode"]})

    assert done.status_code == 200, done.text
    answer = done.json()
    assert answer["action"] == "to_hold_shelf" and answer["hold_for"]["sub"] == "bob" and answer["ready_until"]
    assert answer["borrower"]["sub"] == "alice" and answer["barcode"] == copy["barcode"]
    assert [h["status"] for h in bob.get("/me/holds").json()["items"]] == ["ready"]
    twice = librarian.post("/desk/checkin", {"barcode": copy["barcode"]})
    assert twice.status_code == 409 and (twice.json()["reason"], twice.json()["book_status"]) == \
        ("not_on_loan", "on_hold_shelf")
    assert librarian.post("/desk/checkin", {"barcode": m.new_barcode()}).status_code == 404
    assert librarian.post("/desk/checkin", {"barcode": "not a barcode"}).status_code == 400


def test_check_in_without_a_queue_sends_the_copy_to_the_shelf(librarian: Client, alice: Client) -> None:
    title_id, (copy,) = desk_title(librarian)
    assert alice.post(f"/books/{copy['book_id']}/borrow", CARD).status_code == 201

    done = librarian.post("/desk/checkin", {"barcode": copy["barcode"]}).json()

    assert done["action"] == "to_shelf" and "hold_for" not in done
    assert librarian.get(f"/books/{copy['book_id']}").json()["status"] == "available"
    assert [loan["returned_at"] is not None for loan in alice.get("/me/loans").json()["items"]
            if loan["book_id"] == copy["book_id"]] == [True]


def test_a_copy_on_loan_or_on_the_hold_shelf_cannot_be_withdrawn_and_a_withdrawn_one_leaves_the_counts(
        librarian: Client, alice: Client, bob: Client, pool: Any) -> None:
    title_id, (lent, spare) = desk_title(librarian, copies=2)
    assert alice.post(f"/books/{lent['book_id']}/borrow", CARD).status_code == 201
    withdraw = {"reason": "water damage"}

    on_loan = librarian.post(f"/books/{lent['book_id']}/withdraw", withdraw)
    assert on_loan.status_code == 409 and (on_loan.json()["reason"], on_loan.json()["book_status"]) == \
        ("copy_on_loan", "borrowed")
    assert bob.post(f"/titles/{title_id}/holds").status_code == 409  # a copy is free: borrow it instead
    assert bob.post(f"/books/{spare['book_id']}/borrow", CARD).status_code == 201
    assert librarian.post(f"/titles/{title_id}/holds").status_code == 201  # the librarian waits for the title
    assert librarian.post("/desk/checkin", {"barcode": lent["barcode"]}).json()["action"] == "to_hold_shelf"
    on_shelf = librarian.post(f"/books/{lent['book_id']}/withdraw", withdraw)
    assert on_shelf.status_code == 409 and on_shelf.json()["reason"] == "on_hold_shelf"

    assert librarian.post("/desk/checkin", {"barcode": spare["barcode"]}).json()["action"] == "to_shelf"
    gone = librarian.post(f"/books/{spare['book_id']}/withdraw", withdraw)
    assert gone.status_code == 200 and gone.json()["status"] == "withdrawn", gone.text
    assert gone.json()["withdrawn_reason"] == "water damage"
    again = librarian.post(f"/books/{spare['book_id']}/withdraw", withdraw)
    assert again.status_code == 409 and again.json()["reason"] == "already_withdrawn"
    title = librarian.get(f"/titles/{title_id}").json()
    assert title["copies_total"] == 1 and [c["book_id"] for c in title["copies"]] == [lent["book_id"]]
    assert sql(pool, "SELECT count(*) FROM loans WHERE book_id = CAST(:b AS uuid)", b=spare["book_id"]) == [[1]]


def test_a_price_or_fee_change_never_touches_an_open_loans_payment(librarian: Client, alice: Client, bob: Client,
                                                                   pool: Any, stripe_url: str) -> None:
    _, (lent, other) = desk_title(librarian, copies=2)
    loan = alice.post(f"/books/{lent['book_id']}/borrow", CARD).json()

    for copy in (lent, other):
        changed = patch(librarian, f"/books/{copy['book_id']}", {"borrow_fee_cents": 450, "price_cents": 2500})
        assert changed.status_code == 200 and changed.json()["borrow_fee_cents"] == 450, changed.text

    assert sql(pool, "SELECT amount_cents, state FROM payments WHERE payment_id = CAST(:p AS uuid)",
               p=loan["payment"]["id"]) == [[199, "captured"]]
    intent = sql(pool, "SELECT intent_id FROM payments WHERE payment_id = CAST(:p AS uuid)", p=loan["payment"]["id"])[0][0]
    found = stripe_client(stripe_url).v1.payment_intents.retrieve(intent)
    assert (found.amount, found.status) == (199, "succeeded")
    assert bob.post(f"/books/{other['book_id']}/borrow", CARD).json()["payment"]["amount"] == 450


ZERO = "00000000-0000-0000-0000-000000000000"
LIBRARIAN_ROUTES = [
    ("POST", "/titles", {"isbn": "9780141439518", "title": "T", "author": "A"}),
    ("PATCH", f"/titles/{ZERO}", {"title": "T"}),
    ("POST", f"/titles/{ZERO}/copies", {"price_cents": 1, "borrow_fee_cents": 1}),
    ("PATCH", f"/books/{ZERO}", {"price_cents": 1}),
    ("POST", f"/books/{ZERO}/withdraw", {"reason": "lost"}),
    ("POST", "/imports", None),
    ("POST", "/desk/checkin", {"barcode": "B1"}),
    ("POST", f"/purchases/{ZERO}/refund", {"reason": "damaged"}),
    ("GET", "/reports/overdue", None),
    ("GET", "/reports/hold-shelf", None),
    ("GET", "/reports/revenue", None),
    ("GET", "/reports/circulation", None),
]


@pytest.mark.parametrize(("method", "path", "body"), LIBRARIAN_ROUTES, ids=[f"{m} {p}" for m, p, _ in LIBRARIAN_ROUTES])
def test_a_patron_gets_403_on_every_librarian_endpoint(alice: Client, anonymous: Client, method: str, path: str,
                                                       body: Any) -> None:
    for client, status in ((alice, 403), (anonymous, 401)):
        r = client.session.request(method, client.base + path, json=body, headers=client.headers(), timeout=30)
        assert r.status_code == status, (method, path, r.text)
        assert r.headers["Content-Type"] == "application/problem+json"


def test_every_librarian_route_of_the_desk_is_in_the_403_test() -> None:
    import json
    from pathlib import Path

    functions = Path(__file__).resolve().parents[2] / "functions"
    desk = [tuple(route) for name in ("catalogue_desk", "imports", "desk", "refund", "reports")
            for route in json.loads((functions / name / "function.json").read_text())["routes"]]
    tested = {(method, path) for method, path, _ in LIBRARIAN_ROUTES}
    assert {(method, path.replace("{title_id}", ZERO).replace("{book_id}", ZERO).replace("{purchase_id}", ZERO))
            for method, path in desk} == tested
