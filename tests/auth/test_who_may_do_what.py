"""Identity decides: your loan, or a librarian's business (the session service and issuer)."""

from __future__ import annotations

from typing import Any

from tests.conftest import Client, new_book, sql
from tests.support.issuer import TestIssuer


def _loan_row(pool: Any, loan_id: str) -> list[Any]:
    return sql(pool, "SELECT * FROM loans WHERE loan_id = CAST(:l AS uuid)", l=loan_id)[0]


def _history(pool: Any, book_id: str) -> list[Any]:
    return sql(pool, "SELECT status FROM book_status_history WHERE book_id = CAST(:b AS uuid) ORDER BY entry_id",
               b=book_id)


def test_returning_someone_elses_loan_is_403_and_changes_nothing_but_a_librarian_may(
        alice: Client, bob: Client, librarian: Client, pool: Any) -> None:
    book = new_book(librarian)
    borrowed = alice.post(f"/books/{book['book_id']}/borrow", {"payment_method": "pm_card_visa"})
    assert borrowed.status_code == 201, borrowed.text
    loan_id = borrowed.json()["loan_id"]
    loan_before, history_before = _loan_row(pool, loan_id), _history(pool, book["book_id"])

    refused = bob.post(f"/books/{book['book_id']}/return")
    assert refused.status_code == 403
    assert refused.headers["Content-Type"] == "application/problem+json"
    assert refused.json()["status"] == 403
    assert "WWW-Authenticate" not in refused.headers  # bob is known; he just may not
    assert _loan_row(pool, loan_id) == loan_before
    assert _history(pool, book["book_id"]) == history_before
    assert alice.get(f"/books/{book['book_id']}").json()["status"] == "borrowed"

    returned = librarian.post(f"/books/{book['book_id']}/return")
    assert returned.status_code == 200, returned.text
    returned_at = sql(pool, "SELECT returned_at FROM loans WHERE loan_id = CAST(:l AS uuid)", l=loan_id)[0][0]
    assert returned_at is not None
    assert alice.get(f"/books/{book['book_id']}").json()["status"] == "available"


def test_me_shows_who_the_token_says_you_are(alice: Client, librarian: Client, issuer: TestIssuer) -> None:
    assert alice.get("/me").json() == {"iss": issuer.url, "sub": "alice", "name": "Alice", "handle": "alice",
                                       "email": "alice@example.org", "is_librarian": False}
    assert librarian.get("/me").json()["is_librarian"] is True


def test_a_patron_may_not_do_librarian_work(alice: Client) -> None:
    assert alice.get("/loans").status_code == 403
    assert alice.post("/books", {"isbn": "9780141439518", "title": "T", "author": "A", "price_cents": 1,
                                 "borrow_fee_cents": 1}).status_code == 403
