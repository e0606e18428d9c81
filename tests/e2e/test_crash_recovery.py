"""The process dies between two steps of a payment; reconcile repairs; the money rule holds.

Each case SIGKILLs a real handler process at one point (tests/support/die_at.py),
checks the broken state is really there, runs reconcile, and checks the invariants
against the database and the Stripe-compatible server.
"""

from __future__ import annotations

import os
import subprocess
import sys
from datetime import UTC

import pytest

from lending import reconcile
from lending_postgres import PostgresStore
from lending_stripe import StripeGateway
from tests.conftest import Client, new_book, sql
from tests.support.money import assert_money_rule, processor_states, stripe_client

# point -> does the loan/sale stand after reconcile?
POINTS = {
    "after-authorise": False,
    "after-ledger-authorized": False,
    "after-commit": True,
    "before-capture": True,
    "after-capture": True,
}


def crash(point: str, operation: str, book_id: str, token: str, env: dict[str, str]) -> None:
    result = subprocess.run(
        [sys.executable, "-m", "tests.support.die_at", point, operation, book_id, token],
        env={**os.environ, **env}, capture_output=True, text=True, timeout=60)
    assert result.returncode == -9, f"the process did not die at {point}: {result.stdout} {result.stderr}"


def settle(store: PostgresStore, stripe_url: str) -> reconcile.Report:
    return reconcile.reconcile(store, StripeGateway("sk_test_suite", api_base=stripe_url), grace_seconds=0)


@pytest.mark.parametrize("operation", ["borrow", "purchase"])
@pytest.mark.parametrize("point", list(POINTS))
def test_a_crash_at_any_step_is_repaired_by_reconcile(point: str, operation: str, issuer, librarian: Client,
                                                      store: PostgresStore, pool, stripe_url: str,
                                                      service_env: dict[str, str]) -> None:
    book = new_book(librarian)
    crash(point, operation, book["book_id"], issuer.token("crashy"), service_env)

    unsettled = sql(pool, "SELECT state FROM payments WHERE book_id = CAST(:b AS uuid)", b=book["book_id"])
    assert unsettled and unsettled[0][0] in ("pending", "authorized"), "the crash left nothing to repair"
    held = processor_states(stripe_url, book["book_id"])
    assert held["requires_capture"] + held["succeeded"] == 1

    report = settle(store, stripe_url)
    assert report.examined == 1 and report.errors == 0

    seen = assert_money_rule(pool, stripe_url, book["book_id"])
    stands = POINTS[point]
    assert seen["owners"] == (1 if stands else 0)
    expected_status = ({"borrow": "borrowed", "purchase": "sold"}[operation]) if stands else "available"
    assert store.get_book(book["book_id"]).status.value == expected_status
    # A second run finds nothing to do: reconcile is idempotent.
    assert settle(store, stripe_url).examined == 0


def test_a_won_loan_whose_hold_vanished_is_reversed(issuer, librarian: Client, store: PostgresStore, pool,
                                                    stripe_url: str, service_env: dict[str, str]) -> None:
    book = new_book(librarian)
    crash("after-commit", "borrow", book["book_id"], issuer.token("crashy"), service_env)
    intent_id = sql(pool, "SELECT intent_id FROM payments WHERE book_id = CAST(:b AS uuid)", b=book["book_id"])[0][0]
    stripe_client(stripe_url).v1.payment_intents.cancel(intent_id)  # the authorisation expired meanwhile

    report = settle(store, stripe_url)

    assert report.actions == {"reversed": 1}
    assert store.get_book(book["book_id"]).status.value == "available"
    assert sql(pool, "SELECT closed_reason FROM loans WHERE book_id = CAST(:b AS uuid)", b=book["book_id"]) == [["reversed"]]
    assert_money_rule(pool, stripe_url, book["book_id"])


def test_money_taken_for_a_sale_that_did_not_stand_is_refunded(alice: Client, librarian: Client,
                                                                store: PostgresStore, pool, stripe_url: str) -> None:
    book = new_book(librarian)
    assert alice.post(f"/books/{book['book_id']}/purchase", {"payment_method": "pm_card_visa"}).status_code == 201
    # The sale is undone (e.g. a librarian reverses a mistaken sale) but the money was captured.
    sql(pool, "UPDATE purchases SET reversed_at = now() WHERE book_id = CAST(:b AS uuid)", b=book["book_id"])
    sql(pool, "UPDATE books SET status = 'available' WHERE book_id = CAST(:b AS uuid)", b=book["book_id"])

    assert settle(store, stripe_url).actions == {"refunded": 1}
    assert processor_states(stripe_url, book["book_id"]) == {"refunded": 1}
    assert sql(pool, "SELECT state FROM payments WHERE book_id = CAST(:b AS uuid)", b=book["book_id"]) == [["refunded"]]


def test_reconcile_leaves_a_request_in_flight_alone_within_the_grace_period(issuer, librarian: Client,
                                                                             store: PostgresStore, pool,
                                                                             stripe_url: str,
                                                                             service_env: dict[str, str]) -> None:
    book = new_book(librarian)
    crash("after-ledger-authorized", "borrow", book["book_id"], issuer.token("crashy"), service_env)
    gateway = StripeGateway("sk_test_suite", api_base=stripe_url)
    assert reconcile.reconcile(store, gateway, grace_seconds=3600).examined == 0
    assert processor_states(stripe_url, book["book_id"]) == {"requires_capture": 1}


def test_concurrent_reconcilers_settle_each_payment_once(issuer, librarian: Client, store: PostgresStore, pool,
                                                         stripe_url: str, service_env: dict[str, str]) -> None:
    from concurrent.futures import ThreadPoolExecutor

    books = [new_book(librarian) for _ in range(4)]
    for book, point in zip(books, ["after-authorise", "after-commit", "after-capture", "after-ledger-authorized"], strict=True):
        crash(point, "borrow", book["book_id"], issuer.token("crashy"), service_env)

    with ThreadPoolExecutor(4) as executor:
        reports = list(executor.map(lambda _: settle(store, stripe_url), range(4)))

    assert sum(sum(r.actions.values()) for r in reports) == 4
    assert sum(r.errors for r in reports) == 0
    for book in books:
        assert_money_rule(pool, stripe_url, book["book_id"])


def test_a_request_cannot_attach_a_loan_to_an_authorisation_reconcile_released(
        librarian: Client, store: PostgresStore, pool, stripe_url: str) -> None:
    from datetime import datetime, timedelta

    from lending import payment_flow
    from lending.errors import PaymentReleased
    from lending.model import PaymentKind, User

    gateway = StripeGateway("sk_test_suite", api_base=stripe_url)
    book = store.get_book(new_book(librarian)["book_id"])
    borrower = User("https://issuer.test", "slowpoke")
    payment = payment_flow.new_payment(PaymentKind.BORROW_FEE, book, borrower, idempotency_key=None, request_id=None)
    payment = payment_flow.authorize(store, gateway, payment, "pm_card_visa")

    assert settle(store, stripe_url).actions == {"released": 1}  # reconcile runs while the request is slow
    with pytest.raises(PaymentReleased):
        store.open_loan(book.book_id, borrower, payment.payment_id, datetime.now(UTC) + timedelta(days=1))

    assert store.get_book(book.book_id).status.value == "available"
    assert sql(pool, "SELECT count(*) FROM loans")[0][0] == 0
    assert_money_rule(pool, stripe_url, book.book_id)
