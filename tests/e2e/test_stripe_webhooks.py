"""POST /webhooks/stripe: only correctly signed events count, and they only move the ledger
to where the processor itself says the payment is."""

from __future__ import annotations

import hashlib
import hmac
import json
import time
import uuid

import requests

from lending import payment_flow
from lending.model import PaymentKind, User
from lending_postgres import PostgresStore
from lending_stripe import StripeGateway
from tests.conftest import Client, new_book, sql
from tests.support.money import stripe_client

SECRET = "whsec_test_suite"


def signed(payload: bytes, secret: str = SECRET, at: int | None = None) -> str:
    t = at or int(time.time())
    mac = hmac.new(secret.encode(), f"{t}.".encode() + payload, hashlib.sha256).hexdigest()
    return f"t={t},v1={mac}"


def event(kind: str, obj: dict, event_id: str | None = None) -> bytes:
    return json.dumps({"id": event_id or f"evt_{uuid.uuid4().hex}", "object": "event", "type": kind,
                       "data": {"object": obj}}).encode()


def deliver(api: str, payload: bytes, signature: str | None) -> requests.Response:
    headers = {"Content-Type": "application/json"}
    if signature is not None:
        headers["Stripe-Signature"] = signature
    return requests.post(f"{api}/webhooks/stripe", data=payload, headers=headers, timeout=30)


def ledger(pool, payment_id: str) -> str:
    return sql(pool, "SELECT state FROM payments WHERE payment_id = CAST(:p AS uuid)", p=payment_id)[0][0]


def dangling_authorisation(store: PostgresStore, librarian: Client, stripe_url: str):
    book = store.get_book(new_book(librarian)["book_id"])
    payment = payment_flow.new_payment(PaymentKind.BORROW_FEE, book, User("iss", "sub"), idempotency_key=None,
                                       request_id=None)
    return payment_flow.authorize(store, StripeGateway("sk_test_suite", api_base=stripe_url), payment, "pm_card_visa")


def test_wrongly_signed_payloads_are_400_and_change_nothing(api: str, store: PostgresStore, librarian: Client,
                                                            pool, stripe_url: str) -> None:
    payment = dangling_authorisation(store, librarian, stripe_url)
    stripe_client(stripe_url).v1.payment_intents.cancel(payment.intent_id)
    payload = event("payment_intent.canceled", {"object": "payment_intent", "id": payment.intent_id})

    for signature in (None, "garbage", signed(payload, "whsec_wrong"), signed(payload, at=int(time.time()) - 3600),
                      signed(payload + b" ")):
        r = deliver(api, payload, signature)
        assert r.status_code == 400, (signature, r.text)
        assert r.headers["Content-Type"] == "application/problem+json"
    assert ledger(pool, payment.payment_id) == "authorized"


def test_an_authorisation_cancelled_outside_our_flow_is_recorded_once(api: str, store: PostgresStore,
                                                                      librarian: Client, pool, stripe_url: str) -> None:
    payment = dangling_authorisation(store, librarian, stripe_url)
    stripe_client(stripe_url).v1.payment_intents.cancel(payment.intent_id)  # e.g. expired at the processor
    payload = event("payment_intent.canceled", {"object": "payment_intent", "id": payment.intent_id})

    first = deliver(api, payload, signed(payload))
    assert first.status_code == 200 and first.json()["outcome"] == "released"
    assert ledger(pool, payment.payment_id) == "canceled"
    updated = sql(pool, "SELECT updated_at FROM payments WHERE payment_id = CAST(:p AS uuid)", p=payment.payment_id)

    replay = deliver(api, payload, signed(payload))
    assert replay.status_code == 200 and replay.json()["outcome"] == "duplicate"
    assert sql(pool, "SELECT updated_at FROM payments WHERE payment_id = CAST(:p AS uuid)", p=payment.payment_id) == updated


def test_a_dashboard_refund_is_recorded(api: str, alice: Client, librarian: Client, pool, stripe_url: str) -> None:
    book = new_book(librarian)
    bought = alice.post(f"/books/{book['book_id']}/purchase", {"payment_method": "pm_card_visa"}).json()
    intent_id = sql(pool, "SELECT intent_id FROM payments WHERE payment_id = CAST(:p AS uuid)",
                    p=bought["payment"]["id"])[0][0]
    stripe_client(stripe_url).v1.refunds.create(params={"payment_intent": intent_id})
    payload = event("charge.refunded", {"object": "charge", "id": "ch_x", "payment_intent": intent_id})

    r = deliver(api, payload, signed(payload))

    assert r.status_code == 200 and r.json()["outcome"] == "recorded refund"
    assert ledger(pool, bought["payment"]["id"]) == "refunded"


def test_a_signed_event_cannot_push_the_ledger_past_what_the_processor_says(api: str, alice: Client,
                                                                            librarian: Client, pool) -> None:
    book = new_book(librarian)
    borrowed = alice.post(f"/books/{book['book_id']}/borrow", {"payment_method": "pm_card_visa"}).json()
    intent_id = sql(pool, "SELECT intent_id FROM payments WHERE payment_id = CAST(:p AS uuid)",
                    p=borrowed["payment"]["id"])[0][0]
    payload = event("payment_intent.canceled", {"object": "payment_intent", "id": intent_id, "status": "canceled"})

    r = deliver(api, payload, signed(payload))

    assert r.status_code == 200
    assert ledger(pool, borrowed["payment"]["id"]) == "captured"
    assert alice.get(f"/books/{book['book_id']}").json()["status"] == "borrowed"


def test_an_event_whose_application_failed_is_applied_when_it_is_sent_again(
        api: str, alice: Client, librarian: Client, pool, stripe_url: str) -> None:
    book = new_book(librarian)
    bought = alice.post(f"/books/{book['book_id']}/purchase", {"payment_method": "pm_card_visa"}).json()
    payment_id = bought["payment"]["id"]
    intent_id = sql(pool, "SELECT intent_id FROM payments WHERE payment_id = CAST(:p AS uuid)", p=payment_id)[0][0]
    stripe_client(stripe_url).v1.refunds.create(params={"payment_intent": intent_id})  # refunded on the dashboard
    event_id = f"evt_{uuid.uuid4().hex}"
    payload = event("charge.refunded", {"object": "charge", "id": "ch_x", "payment_intent": intent_id}, event_id)
    # The database refuses the ledger change once: a trigger (in a scratch schema) raises on it.
    scratch = f"scratch_{uuid.uuid4().hex[:8]}"
    sql(pool, f"CREATE SCHEMA {scratch}")
    sql(pool, f"CREATE FUNCTION {scratch}.refuse() RETURNS trigger LANGUAGE plpgsql AS "
              "$$ BEGIN RAISE EXCEPTION 'refused for the test'; END $$")
    sql(pool, f"CREATE TRIGGER refuse_refund BEFORE UPDATE ON payments FOR EACH ROW "
              f"WHEN (NEW.state = 'refunded') EXECUTE FUNCTION {scratch}.refuse()")
    try:
        failed = deliver(api, payload, signed(payload))
        assert failed.status_code >= 500, failed.text  # so the processor sends it again
        assert ledger(pool, payment_id) == "captured"
        assert sql(pool, "SELECT count(*) FROM processor_events WHERE event_id = :e", e=event_id) == [[0]]
    finally:
        sql(pool, "DROP TRIGGER IF EXISTS refuse_refund ON payments")
        sql(pool, f"DROP SCHEMA {scratch} CASCADE")

    retried = deliver(api, payload, signed(payload))

    assert retried.status_code == 200 and retried.json()["outcome"] == "recorded refund", retried.text
    assert ledger(pool, payment_id) == "refunded"
    assert sql(pool, "SELECT count(*) FROM processor_events WHERE event_id = :e", e=event_id) == [[1]]
    replay = deliver(api, payload, signed(payload))
    assert replay.status_code == 200 and replay.json()["outcome"] == "duplicate"
