"""A librarian refunds a sale through HTTP, on PostgreSQL and the Stripe-compatible server: the ledger first,
the processor once (even with twenty refunds at once), the copy back, the buyer told; a crash between the
ledger and the processor is repaired by reconcile."""

from __future__ import annotations

from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from lending import reconcile
from lending.errors import RefundRefused
from lending.model import User
from lending_postgres import PostgresStore
from lending_stripe import StripeGateway
from tests.conftest import Client, sql
from tests.e2e.desk_support import CARD, desk_title
from tests.e2e.test_circulation import all_at_once
from tests.support.money import assert_money_rule, stripe_client

LIBRARIAN = User("https://issuer.test", "libby", is_librarian=True)


def sold(librarian: Client, buyer: Client) -> tuple[dict[str, Any], dict[str, Any]]:
    _, (copy,) = desk_title(librarian)
    bought = buyer.post(f"/books/{copy['book_id']}/purchase", CARD)
    assert bought.status_code == 201, bought.text
    return copy, bought.json()


def refunds_at_processor(stripe_url: str, pool: Any, payment_id: str) -> list[Any]:
    intent = sql(pool, "SELECT intent_id FROM payments WHERE payment_id = CAST(:p AS uuid)", p=payment_id)[0][0]
    return list(stripe_client(stripe_url).v1.refunds.list(params={"payment_intent": intent}).data)


def test_a_refunded_sale_puts_the_copy_back_and_the_buyer_sees_it(librarian: Client, alice: Client, pool: Any,
                                                                  stripe_url: str) -> None:
    copy, bought = sold(librarian, alice)

    r = librarian.post(f"/purchases/{bought['purchase_id']}/refund", {"reason": "damaged in the post"})

    assert r.status_code == 200, r.text
    assert r.json()["payment"] == {**bought["payment"], "status": "refunded"} and r.json()["processor_refunded"]
    assert librarian.get(f"/books/{copy['book_id']}").json()["status"] == "available"
    mine = [p for p in alice.get("/me/purchases").json()["items"] if p["purchase_id"] == bought["purchase_id"]]
    assert mine and mine[0]["reversed_at"] is not None
    assert [x.amount for x in refunds_at_processor(stripe_url, pool, bought["payment"]["id"])] == [1299]
    assert sql(pool, "SELECT state, processor_synced, failure_reason FROM payments WHERE payment_id = CAST(:p AS uuid)",
               p=bought["payment"]["id"]) == [["refunded", True, "refunded by a librarian: damaged in the post"]]
    assert_money_rule(pool, stripe_url, copy["book_id"])
    again = librarian.post(f"/purchases/{bought['purchase_id']}/refund", {"reason": "again"})
    assert (again.status_code, again.json()["reason"]) == (409, "already_refunded")


def test_twenty_refunds_of_one_sale_at_once_make_one_refund_at_the_processor(
        api: str, issuer: Any, librarian: Client, alice: Client, pool: Any, stripe_url: str) -> None:
    _, bought = sold(librarian, alice)
    desk = [Client(api, issuer.token(f"libby{i}", librarian=True)) for i in range(20)]

    results = all_at_once([lambda c=c: c.post(f"/purchases/{bought['purchase_id']}/refund", {"reason": "x"})
                           for c in desk])

    assert Counter(r.status_code for r in results) == {200: 1, 409: 19}
    assert {r.json()["reason"] for r in results if r.status_code == 409} == {"already_refunded"}
    assert len(refunds_at_processor(stripe_url, pool, bought["payment"]["id"])) == 1


def test_a_second_refund_is_refused_without_waiting_for_the_payment_the_first_one_is_settling(
        librarian: Client, alice: Client, pool: Any, store: PostgresStore) -> None:
    """The first refund settles its payment under the row's lock (skipping it if locked: a 202). A refused
    refund must not take that lock, or twenty at once can make the first one answer 202 (seen in CI)."""
    _, bought = sold(librarian, alice)
    store.reverse_sale_for_refund(bought["purchase_id"], LIBRARIAN, "first", now=datetime.now(UTC),
                                  pickup_period=timedelta(days=7))
    with pool.transaction() as settler, ThreadPoolExecutor(1) as other:
        settler.run("SELECT 1 FROM payments WHERE payment_id = CAST(:p AS uuid) FOR UPDATE", p=bought["payment"]["id"])
        second = other.submit(store.reverse_sale_for_refund, bought["purchase_id"], LIBRARIAN, "second",
                              now=datetime.now(UTC), pickup_period=timedelta(days=7))
        with pytest.raises(RefundRefused) as refused:
            second.result(timeout=5)  # blocked on the payment's lock: a TimeoutError here
    assert refused.value.extra["reason"] == "already_refunded"


def test_a_refund_cut_off_after_the_ledger_is_finished_by_reconcile(librarian: Client, alice: Client, pool: Any,
                                                                    stripe_url: str, store: PostgresStore) -> None:
    copy, bought = sold(librarian, alice)
    # The request's first half (the ledger, in one transaction) and then nothing: the process died.
    store.reverse_sale_for_refund(bought["purchase_id"], LIBRARIAN, "crash test", now=datetime.now(UTC),
                                  pickup_period=timedelta(days=7))
    assert refunds_at_processor(stripe_url, pool, bought["payment"]["id"]) == []

    report = reconcile.reconcile(store, StripeGateway("sk_test_suite", api_base=stripe_url), grace_seconds=0)

    assert report.actions.get("refunded", 0) >= 1
    assert len(refunds_at_processor(stripe_url, pool, bought["payment"]["id"])) == 1
    assert sql(pool, "SELECT state, processor_synced FROM payments WHERE payment_id = CAST(:p AS uuid)",
               p=bought["payment"]["id"]) == [["refunded", True]]
    assert_money_rule(pool, stripe_url, copy["book_id"])
    assert reconcile.reconcile(store, StripeGateway("sk_test_suite", api_base=stripe_url),
                               grace_seconds=0).actions.get("refunded", 0) == 0


def test_unknown_purchases_are_404_and_a_sale_not_yet_captured_is_not_refundable(librarian: Client) -> None:
    assert librarian.post("/purchases/00000000-0000-0000-0000-000000000000/refund", {"reason": "x"}).status_code == 404
    assert librarian.post("/purchases/not-a-uuid/refund", {"reason": "x"}).status_code == 404
    assert librarian.post("/purchases/00000000-0000-0000-0000-000000000000/refund", {}).status_code == 400
