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


def _book(store: PostgresStore, title: str):
    from lending.model import NewBook

    return store.add_book(NewBook("9780141439518", title, "Jane Austen", 1299, 199, "usd"))


def test_a_poisoned_payment_does_not_stop_reconcile_from_settling_the_rest(store: PostgresStore, pool,
                                                                           stripe_url: str) -> None:
    from lending import payment_flow
    from lending.model import PaymentKind, PaymentState, User

    gateway = StripeGateway("sk_test_suite", api_base=stripe_url)
    payer = User("https://issuer.test", "poisoner")
    poisoned = payment_flow.new_payment(PaymentKind.BORROW_FEE, _book(store, "Poison"), payer,
                                        idempotency_key=None, request_id=None)
    store.record_payment(poisoned)
    # An intent the processor does not know (e.g. made in another account, or purged): retrieve is a 404.
    store.update_payment(poisoned.payment_id, PaymentState.AUTHORIZED, intent_id="pi_unknown_to_the_processor")
    sql(pool, "UPDATE payments SET updated_at = now() - interval '1 hour' WHERE payment_id = CAST(:p AS uuid)",
        p=poisoned.payment_id)  # listed first, as the oldest
    dangling = [payment_flow.authorize(store, gateway, payment_flow.new_payment(
        PaymentKind.BORROW_FEE, _book(store, f"Dangling {n}"), payer, idempotency_key=None, request_id=None),
        "pm_card_visa") for n in range(2)]

    report = settle(store, stripe_url)

    assert report.failed == 1 and report.errors == 0
    assert report.actions == {"released": 2}
    for payment in dangling:
        assert gateway.retrieve(payment.intent_id).status == "canceled"
        assert store.get_payment(payment.payment_id).state is PaymentState.CANCELED
    attempts, error, backing_off, state = sql(
        pool, "SELECT settle_attempts, settle_error, settle_after > now(), state FROM payments "
              "WHERE payment_id = CAST(:p AS uuid)", p=poisoned.payment_id)[0]
    assert (attempts, backing_off, state) == (1, True, "authorized")
    assert error.startswith("ProcessorRefused")
    again = settle(store, stripe_url)  # the poisoned row waits out its backoff; nothing else is left
    assert (again.examined, again.failed) == (0, 0)
    # Once the backoff has run out it is tried again, and the attempts count up.
    sql(pool, "UPDATE payments SET settle_after = now() WHERE payment_id = CAST(:p AS uuid)", p=poisoned.payment_id)
    assert settle(store, stripe_url).failed == 1
    assert sql(pool, "SELECT settle_attempts FROM payments WHERE payment_id = CAST(:p AS uuid)",
               p=poisoned.payment_id) == [[2]]


def test_a_failed_payment_whose_release_failed_after_confirm_is_released(store: PostgresStore, pool,
                                                                         stripe_url: str) -> None:
    from lending import payment_flow
    from lending.model import PaymentKind, PaymentState, User

    client = stripe_client(stripe_url)
    token = client.v1.tokens.create(params={"card": {"number": "4000002500003155", "exp_month": 12,
                                                     "exp_year": 2040, "cvc": "123"}})
    payment = payment_flow.new_payment(PaymentKind.PURCHASE, _book(store, "Three D"), User("https://issuer.test", "sca"),
                                       idempotency_key=None, request_id=None)
    intent = client.v1.payment_intents.create(params={
        "amount": payment.amount_cents, "currency": "usd", "payment_method": token.card.id,
        "capture_method": "manual", "confirm": True})
    assert intent.status == "requires_action"
    # What the borrow leaves when confirm stops at requires_action and the gateway's release of it
    # fails too: the payment is failed (and, as far as the ledger knows, synced), the intent open.
    store.record_payment(payment)
    store.update_payment(payment.payment_id, PaymentState.PENDING, intent_id=intent.id)
    store.update_payment(payment.payment_id, PaymentState.FAILED, reason="needs authentication")

    report = settle(store, stripe_url)

    assert report.actions == {"released": 1} and report.failed == 0
    assert client.v1.payment_intents.retrieve(intent.id).status == "canceled"
    assert store.get_payment(payment.payment_id).state is PaymentState.FAILED  # still what the patron saw
    assert settle(store, stripe_url).examined == 0  # seen closed: not looked at again
