"""The librarian's reports through HTTP: overdue loans, the hold shelf, revenue per day equal to what the
Stripe-compatible server captured less what it refunded, circulation per day; each as CSV with a header row."""

from __future__ import annotations

import csv
import io
import uuid
from datetime import UTC, date, datetime
from typing import Any

import pytest

from lending.model import NewBook
from lending_postgres import PostgresStore
from tests.conftest import Client, sql
from tests.e2e.desk_support import CARD, desk_title
from tests.support.money import intents_for_book, stripe_client

REPORTS = ("/reports/overdue", "/reports/hold-shelf", "/reports/revenue", "/reports/circulation")
MONEY = ("borrow_fees_cents", "renewals_cents", "sales_cents", "fee_payments_cents", "other_cents", "refunds_cents",
         "net_cents")


def today_row(librarian: Client) -> dict[str, int]:
    today = datetime.now(UTC).date().isoformat()
    rows = [r for r in librarian.get("/reports/revenue", params={"from": today, "to": today}).json()["items"]
            if r["currency"] == "usd"]
    return {k: rows[0][k] if rows else 0 for k in MONEY}


def captured_less_refunded(stripe_url: str, book_ids: list[str]) -> int:
    client, total = stripe_client(stripe_url), 0
    for pi in intents_for_book(stripe_url, book_ids):
        if pi.status == "succeeded":
            total += pi.amount
            total -= sum(r.amount for r in client.v1.refunds.list(params={"payment_intent": pi.id}).data)
    return total


def test_the_revenue_report_equals_what_the_processor_captured_less_refunds_for_a_scripted_day(
        librarian: Client, bob: Client, stripe_url: str, pool: Any, api: str, issuer: Any) -> None:
    alice = Client(api, issuer.token(f"reports-{uuid.uuid4().hex[:8]}"))  # a patron with no balance from other tests
    before = today_row(librarian)
    _, (lent, kept, refunded) = desk_title(librarian, copies=3)
    loan = alice.post(f"/books/{lent['book_id']}/borrow", CARD).json()
    assert alice.post(f"/me/loans/{loan['loan_id']}/renew", CARD).status_code == 200
    assert bob.post(f"/books/{kept['book_id']}/purchase", CARD).status_code == 201
    sale = bob.post(f"/books/{refunded['book_id']}/purchase", CARD).json()
    assert librarian.post(f"/purchases/{sale['purchase_id']}/refund", {"reason": "wrong book"}).status_code == 200
    # ... and a fee payment: the renewed loan comes back two days and an hour late, and its patron pays the fee.
    sql(pool, "UPDATE loans SET due_at = now() - interval '2 days 1 hour' WHERE loan_id = CAST(:l AS uuid)",
        l=loan["loan_id"])
    assert alice.post(f"/books/{lent['book_id']}/return").status_code == 200
    paid = alice.post("/me/account/payments", CARD)
    assert paid.status_code == 201, paid.text
    fee_payment = paid.json()["payment"]
    assert (fee_payment["status"], fee_payment["amount"]) == ("captured", 75)  # three started days
    (intent_id,) = sql(pool, "SELECT intent_id FROM payments WHERE payment_id = CAST(:p AS uuid)", p=fee_payment["id"])[0]
    at_processor = stripe_client(stripe_url).v1.payment_intents.retrieve(intent_id)

    after = today_row(librarian)

    delta = {k: after[k] - before[k] for k in MONEY}
    fees = fee_payment["amount"]
    assert delta == {"borrow_fees_cents": 199, "renewals_cents": 199, "sales_cents": 2 * 1299, "fee_payments_cents": fees,
                     "other_cents": 0, "refunds_cents": 1299, "net_cents": 199 + 199 + 1299 + fees}
    assert (at_processor.status, at_processor.amount) == ("succeeded", fees)
    assert delta["net_cents"] == captured_less_refunded(stripe_url, [lent["book_id"], kept["book_id"],
                                                                     refunded["book_id"]]) + at_processor.amount


def test_overdue_loans_oldest_first_with_patron_title_barcode_and_days(librarian: Client, alice: Client,
                                                                      bob: Client, pool: Any) -> None:
    _, (late, later) = desk_title(librarian, copies=2)
    for who, copy, days in ((alice, late, 5), (bob, later, 2)):
        loan = who.post(f"/books/{copy['book_id']}/borrow", CARD).json()
        sql(pool, "UPDATE loans SET borrowed_at = now() - make_interval(days => :d + 30), "
                  "due_at = now() - make_interval(days => :d, hours => 1) WHERE loan_id = CAST(:l AS uuid)",
            d=days, l=loan["loan_id"])

    rows = [r for r in librarian.get("/reports/overdue").json()["items"] if r["barcode"] in (late["barcode"],
                                                                                              later["barcode"])]

    assert [(r["patron_sub"], r["barcode"], r["days_overdue"], r["title"]) for r in rows] == [
        ("alice", late["barcode"], 5, "The Desk Book"), ("bob", later["barcode"], 2, "The Desk Book")]


def test_the_hold_shelf_report_lists_the_copy_its_patron_and_ready_until(librarian: Client, alice: Client,
                                                                         bob: Client) -> None:
    title_id, (copy,) = desk_title(librarian)
    alice.post(f"/books/{copy['book_id']}/borrow", CARD)
    bob.post(f"/titles/{title_id}/holds")
    until = librarian.post("/desk/checkin", {"barcode": copy["barcode"]}).json()["ready_until"]

    rows = [r for r in librarian.get("/reports/hold-shelf").json()["items"] if r["barcode"] == copy["barcode"]]

    assert [(r["patron_sub"], r["ready_until"]) for r in rows] == [("bob", until)]


def test_the_circulation_report_counts_loans_returns_and_holds_per_day(librarian: Client, alice: Client,
                                                                       bob: Client) -> None:
    today = datetime.now(UTC).date().isoformat()

    def counts() -> dict[str, int]:
        (row,) = librarian.get("/reports/circulation", params={"from": today, "to": today}).json()["items"]
        return {k: v for k, v in row.items() if k != "day"}

    before = counts()
    title_id, (copy,) = desk_title(librarian)
    alice.post(f"/books/{copy['book_id']}/borrow", CARD)
    bob.post(f"/titles/{title_id}/holds")
    librarian.post("/desk/checkin", {"barcode": copy["barcode"]})
    bob.post(f"/titles/{title_id}/borrow", CARD)
    after = counts()

    assert {k: after[k] - before[k] for k in after} == {"loans": 2, "returns": 1, "holds_placed": 1, "holds_filled": 1}
    week = librarian.get("/reports/circulation", params={"from": "2026-01-01", "to": "2026-01-07"}).json()
    assert [r["day"] for r in week["items"]] == [f"2026-01-0{d}" for d in range(1, 8)] and week["timezone"] == "UTC"


@pytest.mark.parametrize("path", REPORTS)
def test_every_report_opens_as_csv_with_a_header_row(librarian: Client, path: str) -> None:
    r = librarian.get(path, headers={"Accept": "text/csv"})
    assert r.status_code == 200 and r.headers["Content-Type"].startswith("text/csv")
    rows = list(csv.reader(io.StringIO(r.text)))
    json_rows = librarian.get(path).json()["items"]
    assert rows[0] and len(rows) == 1 + len(json_rows)
    assert all(set(item) == set(rows[0]) for item in json_rows)


@pytest.mark.parametrize("query", [{"from": "yesterday"}, {"from": "2026-02-01", "to": "2026-01-01"},
                                   {"from": "2020-01-01", "to": "2026-01-01"}])
def test_a_report_period_that_is_not_one_is_400(librarian: Client, query: dict[str, str]) -> None:
    assert librarian.get("/reports/revenue", params=query).status_code == 400


def test_days_are_the_library_time_zones(store: PostgresStore, pool: Any) -> None:
    """A sale made at 23:30 UTC is the next day in Paris; its refund counts on the refund's own day."""
    book = store.add_book(NewBook("9780141439518", "Emma", "Jane Austen", 500, 99, "eur"))
    sql(pool, "INSERT INTO payments (payment_id, kind, book_id, payer_iss, payer_sub, amount_cents, currency, state, "
              "created_at, refunded_at) VALUES (gen_random_uuid(), 'purchase', CAST(:b AS uuid), 'https://issuer.test', "
              "'tz', 500, 'eur', 'refunded', '2020-06-01T23:30:00Z', '2020-06-03T12:00:00Z')", b=book.book_id)
    start, end = date(2020, 6, 1), date(2020, 6, 3)

    def days(zone: str) -> list[tuple[str, int, int]]:
        return [(r["day"], r["sales_cents"], r["refunds_cents"]) for r in store.revenue_report(start, end, zone)
                if r["currency"] == "eur"]

    assert days("UTC") == [("2020-06-01", 500, 0), ("2020-06-03", 0, 500)]
    assert days("Europe/Paris") == [("2020-06-02", 500, 0), ("2020-06-03", 0, 500)]
