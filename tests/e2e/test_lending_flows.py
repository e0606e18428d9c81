"""Borrow, return and buy through HTTP (chalice local) against PostgreSQL, localstripe and a served JWKS."""

from __future__ import annotations

from tests.conftest import Client, new_book, sql


def test_a_patron_borrows_returns_and_then_buys_a_book(alice: Client, librarian: Client, pool) -> None:
    book = new_book(librarian)

    borrowed = alice.post(f"/books/{book['book_id']}/borrow", {"payment_method": "pm_card_visa"})
    assert borrowed.status_code == 201, borrowed.text
    loan = borrowed.json()
    assert loan["book_id"] == book["book_id"] and loan["due_at"]
    assert loan["payment"]["status"] == "captured" and loan["payment"]["amount"] == 199
    assert alice.get(f"/books/{book['book_id']}").json()["status"] == "borrowed"
    assert [item["loan_id"] for item in alice.get("/me/loans").json()["items"]] == [loan["loan_id"]]

    returned = alice.post(f"/books/{book['book_id']}/return")
    assert returned.status_code == 200, returned.text
    assert returned.json()["returned_at"] is not None
    assert alice.get(f"/books/{book['book_id']}").json()["status"] == "available"

    bought = alice.post(f"/books/{book['book_id']}/purchase", {"payment_method": "pm_card_visa"})
    assert bought.status_code == 201, bought.text
    assert bought.json()["payment"] == {**bought.json()["payment"], "status": "captured", "amount": 1299}
    assert alice.get(f"/books/{book['book_id']}").json()["status"] == "sold"
    assert len(alice.get("/me/purchases").json()["items"]) == 1

    history = sql(pool, "SELECT status FROM book_status_history WHERE book_id = CAST(:b AS uuid) ORDER BY entry_id",
                  b=book["book_id"])
    assert [h[0] for h in history] == ["available", "borrowed", "available", "sold"]


def test_a_sold_copy_cannot_be_borrowed(alice: Client, bob: Client, librarian: Client) -> None:
    book = new_book(librarian)
    assert alice.post(f"/books/{book['book_id']}/purchase", {"payment_method": "pm_card_visa"}).status_code == 201
    refused = bob.post(f"/books/{book['book_id']}/borrow", {"payment_method": "pm_card_visa"})
    assert refused.status_code == 409
    assert refused.headers["Content-Type"] == "application/problem+json"
    assert refused.json()["status"] == 409


def test_a_declined_card_is_402_and_changes_nothing(alice: Client, librarian: Client, pool) -> None:
    book = new_book(librarian)
    r = alice.post(f"/books/{book['book_id']}/borrow", {"payment_method": "pm_card_chargeCustomerFail"})
    assert r.status_code == 402
    assert r.json()["detail"]
    assert alice.get(f"/books/{book['book_id']}").json()["status"] == "available"
    assert sql(pool, "SELECT count(*) FROM loans")[0][0] == 0
    assert sql(pool, "SELECT state FROM payments") == [["failed"]]


def test_only_the_borrower_or_a_librarian_may_return(alice: Client, bob: Client, librarian: Client) -> None:
    book = new_book(librarian)
    assert alice.post(f"/books/{book['book_id']}/borrow", {"payment_method": "pm_card_visa"}).status_code == 201
    refused = bob.post(f"/books/{book['book_id']}/return")
    assert refused.status_code == 403
    assert alice.get(f"/books/{book['book_id']}").json()["status"] == "borrowed"
    assert librarian.post(f"/books/{book['book_id']}/return").status_code == 200
    assert alice.get(f"/books/{book['book_id']}").json()["status"] == "available"
