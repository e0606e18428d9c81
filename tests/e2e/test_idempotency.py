"""Idempotency-Key: one charge however many times (and however concurrently) a request is sent."""

from __future__ import annotations

import threading
import uuid
from concurrent.futures import ThreadPoolExecutor

from tests.conftest import Client, new_book, sql
from tests.support.money import assert_money_rule, intents_for_book

DUPLICATES = 20


def test_twenty_concurrent_duplicates_make_one_charge_and_identical_responses(
        alice: Client, librarian: Client, pool, stripe_url: str, api: str) -> None:
    book = new_book(librarian)
    key = str(uuid.uuid4())
    start = threading.Barrier(DUPLICATES)

    def send(_: int) -> tuple[int, str]:
        client = Client(api, alice.token)
        start.wait()
        r = client.post(f"/books/{book['book_id']}/borrow", {"payment_method": "pm_card_visa"},
                        headers={"Idempotency-Key": key})
        return r.status_code, r.text

    with ThreadPoolExecutor(DUPLICATES) as executor:
        results = list(executor.map(send, range(DUPLICATES)))

    assert {status for status, _ in results} == {201}, results
    assert len({body for _, body in results}) == 1, "every duplicate gets the first response, byte for byte"
    assert sql(pool, "SELECT count(*) FROM payments")[0][0] == 1
    assert sql(pool, "SELECT count(*) FROM loans")[0][0] == 1
    assert len(intents_for_book(stripe_url, book["book_id"])) == 1
    assert_money_rule(pool, stripe_url, book["book_id"])


def test_a_replay_returns_the_first_response_even_for_an_error(alice: Client, bob: Client, librarian: Client) -> None:
    book = new_book(librarian)
    assert bob.post(f"/books/{book['book_id']}/borrow", {"payment_method": "pm_card_visa"}).status_code == 201
    key = {"Idempotency-Key": "retry-me"}
    first = alice.post(f"/books/{book['book_id']}/borrow", {"payment_method": "pm_card_visa"}, headers=key)
    assert first.status_code == 409
    assert bob.post(f"/books/{book['book_id']}/return").status_code == 200
    again = alice.post(f"/books/{book['book_id']}/borrow", {"payment_method": "pm_card_visa"}, headers=key)
    assert (again.status_code, again.text) == (409, first.text)
    assert again.headers.get("Idempotent-Replayed") == "true"


def test_the_same_key_with_a_different_body_is_422_and_changes_nothing(alice: Client, librarian: Client, pool) -> None:
    book = new_book(librarian)
    other = new_book(librarian, title="Emma")
    key = {"Idempotency-Key": "k-1"}
    assert alice.post(f"/books/{book['book_id']}/borrow", {"payment_method": "pm_card_visa"}, headers=key).status_code == 201
    reused = alice.post(f"/books/{other['book_id']}/borrow", {"payment_method": "pm_card_visa"}, headers=key)
    assert reused.status_code == 422
    assert reused.headers["Content-Type"] == "application/problem+json"
    assert alice.get(f"/books/{other['book_id']}").json()["status"] == "available"
    assert sql(pool, "SELECT count(*) FROM payments")[0][0] == 1


def test_the_same_key_on_the_same_path_with_a_different_body_is_422_and_charges_nothing_more(
        alice: Client, librarian: Client, pool, stripe_url: str) -> None:
    book = new_book(librarian)
    path, key = f"/books/{book['book_id']}/borrow", {"Idempotency-Key": "same-path-other-body"}
    first = alice.post(path, {"payment_method": "pm_card_chargeCustomerFail"}, headers=key)
    assert first.status_code == 402, first.text  # declined: the book stays available for the second body

    reused = alice.post(path, {"payment_method": "pm_card_visa"}, headers=key)
    assert reused.status_code == 422, reused.text
    assert reused.headers["Content-Type"] == "application/problem+json"
    assert reused.headers.get("Idempotent-Replayed") != "true"
    assert alice.get(f"/books/{book['book_id']}").json()["status"] == "available"
    assert sql(pool, "SELECT state FROM payments WHERE book_id = CAST(:b AS uuid)", b=book["book_id"]) == [["failed"]]
    assert sql(pool, "SELECT count(*) FROM loans")[0][0] == 0
    assert [pi.status for pi in intents_for_book(stripe_url, book["book_id"])] == ["requires_payment_method"]
    assert alice.post(path, {"payment_method": "pm_card_chargeCustomerFail"}, headers=key).text == first.text


def test_keys_belong_to_their_user(alice: Client, bob: Client, librarian: Client) -> None:
    first, second = new_book(librarian), new_book(librarian)
    key = {"Idempotency-Key": "shared-key"}
    assert alice.post(f"/books/{first['book_id']}/borrow", {"payment_method": "pm_card_visa"}, headers=key).status_code == 201
    r = bob.post(f"/books/{second['book_id']}/borrow", {"payment_method": "pm_card_visa"}, headers=key)
    assert r.status_code == 201 and r.json()["book_id"] == second["book_id"]
