"""Fees through HTTP: late fee arithmetic, lost and found by the overdue job, blocks, paying the balance
(declined, 20 duplicates, two keys at once) and waivers.

Time is moved, not waited for: a loan's due date is set back in the database (as if the clock had run
on), then the return, the job or the block check reads it with the service's own clock.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import uuid
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from tests.conftest import Client, new_book, sql
from tests.e2e.test_circulation import CARD, a_title

PRICE = 1299  # new_book's
DECLINED = {"payment_method": "pm_card_chargeCustomerFail"}


def overdue_by(pool: Any, book_id: str, interval: str) -> None:
    """Move time on for this loan: it fell due `interval` ago."""
    sql(pool, "UPDATE loans SET due_at = now() - CAST(:i AS interval) WHERE book_id = CAST(:b AS uuid) "
              "AND returned_at IS NULL", i=interval, b=book_id)


def borrowed(patron: Client, librarian: Client, pool: Any, late: str | None = None) -> str:
    book = new_book(librarian, isbn=f"978{uuid.uuid4().int % 10**9:09d}0")
    assert patron.post(f"/books/{book['book_id']}/borrow", CARD).status_code == 201
    if late:
        overdue_by(pool, book["book_id"], late)
    return str(book["book_id"])


def account(patron: Client) -> dict[str, Any]:
    r = patron.get("/me/account")
    assert r.status_code == 200, r.text
    return dict(r.json())


def run_overdue_job(env: dict[str, str]) -> dict[str, Any]:
    run = subprocess.run([sys.executable, "-m", "ops.jobs", "overdue"], env={**os.environ, **env},
                         capture_output=True, text=True, timeout=60)
    assert run.returncode == 0, run.stdout + run.stderr
    return next(json.loads(line) for line in run.stdout.splitlines() if line.startswith("{") and '"overdue"' in line)


def test_late_fees_start_after_the_grace_count_each_started_day_and_stop_at_the_price(
        alice: Client, librarian: Client, pool: Any) -> None:
    in_grace = borrowed(alice, librarian, pool, late="23 hours")
    two_days_and_an_hour = borrowed(alice, librarian, pool, late="2 days 1 hour")
    a_hundred_days = borrowed(alice, librarian, pool, late="100 days")
    for book_id in (in_grace, two_days_and_an_hour, a_hundred_days):
        assert alice.post(f"/books/{book_id}/return").status_code == 200  # never refused for money
    mine = account(alice)
    assert sorted(c["amount_cents"] for c in mine["charges"]) == [75, PRICE]
    assert {c["kind"] for c in mine["charges"]} == {"late_fee"} and all(c["title"] for c in mine["charges"])
    assert mine["balance_cents"] == 75 + PRICE and mine["currency"] == "usd"
    assert (mine["blocked"], mine["block_reasons"]) == (True, ["balance_over_limit"])


def test_a_blocked_patron_may_still_return_and_pay_and_borrows_again_after_paying(
        alice: Client, librarian: Client, pool: Any) -> None:
    still_out = borrowed(alice, librarian, pool)
    loan_id = alice.get("/me/loans").json()["items"][0]["loan_id"]
    assert alice.post(f"/books/{borrowed(alice, librarian, pool, late='60 days')}/return").status_code == 200
    title_id, (other,) = a_title(librarian)
    for refused in (alice.post(f"/books/{other}/borrow", CARD), alice.post(f"/titles/{title_id}/borrow", CARD),
                    alice.post(f"/titles/{title_id}/holds"), alice.post(f"/me/loans/{loan_id}/renew", CARD)):
        assert refused.status_code == 403, refused.text
        assert (refused.json()["reason"], refused.json()["block_reasons"]) == ("account_blocked", ["balance_over_limit"])
    assert sql(pool, "SELECT count(*) FROM payments WHERE book_id = CAST(:b AS uuid)", b=other)[0][0] == 0  # no card touched

    paid = alice.post("/me/account/payments", CARD, headers={"Idempotency-Key": str(uuid.uuid4())})
    assert paid.status_code == 201, paid.text
    body = paid.json()
    assert (body["charge"]["kind"], body["charge"]["amount_cents"]) == ("payment", -PRICE)
    assert (body["payment"]["status"], body["payment"]["amount"]) == ("captured", PRICE)
    assert (body["account"]["balance_cents"], body["account"]["blocked"]) == (0, False)
    nothing = alice.post("/me/account/payments", CARD)
    assert (nothing.status_code, nothing.json()["reason"]) == (409, "nothing_to_pay")
    assert alice.post(f"/books/{other}/borrow", CARD).status_code == 201
    assert alice.post(f"/books/{still_out}/return").status_code == 200


def test_a_loan_overdue_too_long_blocks_until_it_is_returned(alice: Client, librarian: Client, pool: Any) -> None:
    late = borrowed(alice, librarian, pool, late="15 days")
    other = new_book(librarian, isbn="9780261102217")
    refused = alice.post(f"/books/{other['book_id']}/borrow", CARD)
    assert (refused.status_code, refused.json()["block_reasons"]) == (403, ["overdue_loan"])
    assert account(alice)["block_reasons"] == ["overdue_loan"]
    assert alice.post(f"/books/{late}/return").status_code == 200
    # 15 days and a moment late: 16 started days
    assert account(alice)["balance_cents"] == 16 * 25 and not account(alice)["blocked"]
    assert alice.post(f"/books/{other['book_id']}/borrow", CARD).status_code == 201


def test_a_copy_the_job_declares_lost_is_charged_and_coming_back_reverses_the_charge_for_the_next_in_line(
        alice: Client, bob: Client, librarian: Client, pool: Any, service_env: dict[str, str]) -> None:
    title_id, (book_id,) = a_title(librarian)
    assert alice.post(f"/titles/{title_id}/borrow", CARD).status_code == 201
    assert bob.post(f"/titles/{title_id}/holds").status_code == 201
    overdue_by(pool, book_id, "61 days")
    assert run_overdue_job(service_env)["declared_lost"] == 1
    assert run_overdue_job(service_env)["declared_lost"] == 0  # a second run finds nothing more
    assert Client(alice.base).get(f"/books/{book_id}").json()["status"] == "lost"
    assert sorted((c["kind"], c["amount_cents"]) for c in account(alice)["charges"]) == [
        ("late_fee", PRICE), ("lost_item", PRICE)]
    assert alice.get("/me/loans").json()["items"][0]["closed_reason"] == "lost"

    assert bob.post(f"/books/{book_id}/return").status_code == 403  # not bob's to bring back
    assert alice.post(f"/books/{book_id}/return").status_code == 200
    mine = account(alice)
    assert sorted((c["kind"], c["amount_cents"]) for c in mine["charges"]) == [
        ("late_fee", PRICE), ("lost_item", PRICE), ("lost_item_reversed", -PRICE)]
    assert mine["balance_cents"] == PRICE  # the late fee stays
    bobs = bob.get("/me/holds").json()["items"][0]
    assert (bobs["status"], bobs["book_id"]) == ("ready", book_id)


def test_a_declined_card_pays_nothing_and_changes_nothing(alice: Client, librarian: Client, pool: Any) -> None:
    assert alice.post(f"/books/{borrowed(alice, librarian, pool, late='2 days 1 hour')}/return").status_code == 200
    before = account(alice)
    refused = alice.post("/me/account/payments", DECLINED)
    assert refused.status_code == 402
    assert account(alice) == before and before["balance_cents"] == 75
    assert sql(pool, "SELECT state FROM payments WHERE kind = 'fee_payment'") == [["failed"]]
    assert sql(pool, "SELECT count(*) FROM charges WHERE kind = 'payment'")[0][0] == 0


def test_twenty_concurrent_payments_with_one_key_charge_once(alice: Client, librarian: Client, pool: Any) -> None:
    assert alice.post(f"/books/{borrowed(alice, librarian, pool, late='2 days 1 hour')}/return").status_code == 200
    key = {"Idempotency-Key": str(uuid.uuid4())}
    with ThreadPoolExecutor(20) as pool_of_clients:
        answers = list(pool_of_clients.map(lambda _: alice.post("/me/account/payments", CARD, headers=key), range(20)))
    statuses = [a.status_code for a in answers]
    assert set(statuses) <= {201, 409} and 201 in statuses, statuses
    assert all(a.json().get("reason") != "balance_changed" for a in answers if a.status_code == 409)
    assert sql(pool, "SELECT state, count(*) FROM payments WHERE kind = 'fee_payment' GROUP BY 1") == [["captured", 1]]
    assert sql(pool, "SELECT count(*) FROM charges WHERE kind = 'payment'")[0][0] == 1
    assert account(alice)["balance_cents"] == 0
    again = alice.post("/me/account/payments", CARD, headers=key)  # a replay, not a second payment
    assert (again.status_code, again.headers.get("Idempotent-Replayed")) == (201, "true")


def test_two_payments_with_different_keys_at_once_never_pay_twice(alice: Client, librarian: Client, pool: Any) -> None:
    assert alice.post(f"/books/{borrowed(alice, librarian, pool, late='2 days 1 hour')}/return").status_code == 200
    for _ in range(5):  # a few rounds, so the two really meet
        with ThreadPoolExecutor(2) as pair:
            answers = list(pair.map(lambda _: alice.post("/me/account/payments", CARD,
                                                         headers={"Idempotency-Key": str(uuid.uuid4())}), range(2)))
        statuses = sorted(a.status_code for a in answers)
        assert statuses.count(201) <= 1 and set(statuses) <= {201, 409}, [a.text for a in answers]
        assert account(alice)["balance_cents"] == 0
        if statuses.count(201) == 0:
            break
        assert alice.post(f"/books/{borrowed(alice, librarian, pool, late='2 days 1 hour')}/return").status_code == 200
    captured = sql(pool, "SELECT count(*), coalesce(sum(amount_cents), 0) FROM payments WHERE kind = 'fee_payment' "
                         "AND state = 'captured'")[0]
    fees = sql(pool, "SELECT coalesce(sum(amount_cents), 0) FROM charges WHERE kind = 'late_fee'")[0][0]
    assert captured[1] <= fees  # never more money taken than was owed
    assert sql(pool, "SELECT count(*) FROM payments WHERE kind = 'fee_payment' AND state = 'authorized'")[0][0] == 0


def test_a_librarian_finds_a_patron_and_waives_a_charge_and_a_patron_cannot(
        alice: Client, librarian: Client, pool: Any, issuer: Any) -> None:
    assert alice.post(f"/books/{borrowed(alice, librarian, pool, late='2 days 1 hour')}/return").status_code == 200
    (fee,) = account(alice)["charges"]
    found = librarian.get("/patrons", params={"q": "alice"}).json()["items"]
    (patron,) = [p for p in found if (p["iss"], p["sub"]) == (issuer.url, "alice")]  # other suites' alices too
    assert librarian.get("/patrons", params={"q": "nobody-" + uuid.uuid4().hex}).json()["items"] == []
    file = librarian.get(f"/patrons/{patron['patron_id']}").json()
    assert file["account"]["balance_cents"] == 75 and file["loans"][0]["returned_at"]
    waive = f"/patrons/{patron['patron_id']}/charges/{fee['charge_id']}/waive"
    assert alice.post(waive, {"reason": "I say so"}).status_code == 403
    assert alice.get(f"/patrons/{patron['patron_id']}").status_code == 403
    waived = librarian.post(waive, {"reason": "first late return"})
    assert waived.status_code == 201, waived.text
    assert (waived.json()["kind"], waived.json()["amount_cents"], waived.json()["reason"]) == (
        "waiver", -75, "first late return")
    assert waived.json()["librarian"]
    twice = librarian.post(waive, {"reason": "again"})
    assert (twice.status_code, twice.json()["reason"]) == (409, "already_waived")
    assert account(alice)["balance_cents"] == 0
    assert librarian.get(f"/patrons/{uuid.uuid4()}").status_code == 404
    assert librarian.post(f"/patrons/{patron['patron_id']}/charges/{uuid.uuid4()}/waive", {"reason": "x"}).status_code == 404


def test_the_desk_check_in_charges_a_late_fee_and_takes_back_a_lost_copy(
        alice: Client, librarian: Client, pool: Any, service_env: dict[str, str]) -> None:
    def barcode(book_id: str) -> str:
        return str(sql(pool, "SELECT barcode FROM books WHERE book_id = CAST(:b AS uuid)", b=book_id)[0][0])

    late = borrowed(alice, librarian, pool, late="2 days 1 hour")
    done = librarian.post("/desk/checkin", {"barcode": barcode(late)})
    assert done.status_code == 200, done.text
    assert [(c["kind"], c["amount_cents"]) for c in account(alice)["charges"]] == [("late_fee", 75)]

    lost = borrowed(alice, librarian, pool, late="61 days")
    assert run_overdue_job(service_env)["declared_lost"] == 1
    back = librarian.post("/desk/checkin", {"barcode": barcode(lost)})
    assert back.status_code == 200, back.text
    assert Client(alice.base).get(f"/books/{lost}").json()["status"] == "available"
    kinds = sorted((c["kind"], c["amount_cents"]) for c in account(alice)["charges"])
    assert kinds == sorted([("late_fee", 75), ("late_fee", PRICE), ("lost_item", PRICE), ("lost_item_reversed", -PRICE)])
