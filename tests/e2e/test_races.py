"""Many real concurrent HTTP clients race for one copy: the database decides, exactly one wins."""

from __future__ import annotations

import threading
from collections import Counter
from concurrent.futures import ThreadPoolExecutor

import pytest

from tests.conftest import Client, new_book, sql
from tests.support.money import assert_money_rule

CLIENTS = 50


def race(api: str, issuer, book_id: str, actions: list[str]) -> list[tuple[str, int, dict]]:
    clients = [Client(api, issuer.token(f"racer{i}")) for i in range(len(actions))]
    start = threading.Barrier(len(actions))

    def go(i: int) -> tuple[str, int, dict]:
        start.wait()
        r = clients[i].post(f"/books/{book_id}/{actions[i]}", {"payment_method": "pm_card_visa"})
        return actions[i], r.status_code, r.json()

    with ThreadPoolExecutor(max_workers=len(actions)) as pool:
        return list(pool.map(go, range(len(actions))))


@pytest.mark.parametrize("mix", ["borrow", "purchase", "borrow-vs-purchase"])
def test_exactly_one_of_fifty_concurrent_clients_wins(mix: str, api: str, issuer, librarian: Client, pool,
                                                      stripe_url: str) -> None:
    book = new_book(librarian)
    actions = {"borrow": ["borrow"] * CLIENTS, "purchase": ["purchase"] * CLIENTS,
               "borrow-vs-purchase": ["borrow", "purchase"] * (CLIENTS // 2)}[mix]

    results = race(api, issuer, book["book_id"], actions)

    statuses = Counter(status for _, status, _ in results)
    assert statuses == {201: 1, 409: CLIENTS - 1}, statuses
    losers = [body for _, status, body in results if status == 409]
    assert all(body["status"] == 409 and body["title"] and body["detail"] for body in losers)
    winner_action = next(action for action, status, _ in results if status == 201)

    open_loans = sql(pool, "SELECT count(*) FROM loans WHERE book_id = CAST(:b AS uuid) AND returned_at IS NULL",
                     b=book["book_id"])[0][0]
    sales = sql(pool, "SELECT count(*) FROM purchases WHERE book_id = CAST(:b AS uuid)", b=book["book_id"])[0][0]
    assert (open_loans, sales) == ((1, 0) if winner_action == "borrow" else (0, 1))
    seen = assert_money_rule(pool, stripe_url, book["book_id"])
    assert seen["ledger"]["captured"] == 1
    # Every other authorisation that was taken was released, at the processor too.
    assert seen["ledger"]["canceled"] == seen["processor"]["canceled"]
    assert set(seen["ledger"]) <= {"captured", "canceled"}
