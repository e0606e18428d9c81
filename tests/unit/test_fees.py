"""Fees on the fakes with a moved clock: the arithmetic, blocks, the handlers, the overdue job's part,
paying the balance and reconcile's repairs of a fee payment. No I/O, no sleeping."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from lending import fees, payment_flow, reconcile
from lending.errors import NotAllowed
from lending.fees_model import Account, BlockPolicy, FeePolicy
from lending.model import Payment, PaymentKind, PaymentState
from lending_settings import Settings, from_env
from tests.unit.test_circulation import ALICE, BOB, LIBBY, PERIOD, World

DAY, HOUR = timedelta(days=1), timedelta(hours=1)
DUE = datetime(2026, 1, 1, tzinfo=UTC)
DAILY = FeePolicy(late_fee_cents=25, interval=DAY, grace=DAY)
CARD = {"payment_method": "pm_card_visa"}


@pytest.mark.parametrize(("late", "cents"), [
    (timedelta(0), 0), (-DAY, 0),                      # on time, or early
    (23 * HOUR, 0), (DAY, 0),                          # within the grace period, its end included
    (DAY + timedelta(seconds=1), 50),                  # past the grace: every started day counts, from the due date
    (2 * DAY + HOUR, 75), (3 * DAY, 75),               # a started day counts in full; a whole one once
    (100 * DAY, 1500),                                 # capped at the copy's price
])
def test_a_late_fee_is_per_started_interval_past_the_due_date_after_the_grace_and_capped(
        late: timedelta, cents: int) -> None:
    assert fees.late_fee(DUE, DUE + late, DAILY, 1500) == cents


def test_short_iso_periods_work_the_same_and_a_cap_already_reached_charges_nothing() -> None:
    seconds = FeePolicy(late_fee_cents=10, interval=timedelta(seconds=1), grace=timedelta(seconds=1))
    assert fees.late_fee(DUE, DUE + timedelta(seconds=3.5), seconds, 1000) == 40
    assert fees.late_fee(DUE, DUE + 10 * DAY, DAILY, 0) == 0


def test_a_patron_is_blocked_by_a_balance_over_the_limit_or_a_loan_overdue_too_long() -> None:
    policy = BlockPolicy(max_balance_cents=1000, overdue_after=14 * DAY)
    assert fees.block_reasons(Account(1000, "usd"), DUE, policy) == []
    assert fees.block_reasons(Account(1001, "usd"), DUE, policy) == ["balance_over_limit"]
    assert fees.block_reasons(Account(0, "usd", oldest_due_at=DUE - 14 * DAY), DUE, policy) == []
    assert fees.block_reasons(Account(1001, "usd", oldest_due_at=DUE - 15 * DAY), DUE, policy) == [
        "balance_over_limit", "overdue_loan"]


def late_return(world: World, late: timedelta) -> None:
    assert world.borrow(ALICE).status == 201
    world.clock.advance(PERIOD + late)
    assert world.call("POST", f"/books/{world.copies[0].book_id}/return", ALICE).status == 200


def test_returning_late_through_the_handler_charges_the_account_by_the_moved_clock() -> None:
    world = World()
    late_return(world, 2 * DAY + HOUR)
    account = world.call("GET", "/me/account", ALICE).json()
    assert (account["balance_cents"], account["blocked"], account["block_reasons"]) == (75, False, [])
    assert [(c["kind"], c["amount_cents"], c["title"]) for c in account["charges"]] == [("late_fee", 75, "The Hobbit")]


def test_a_loan_overdue_too_long_blocks_borrowing_renewing_and_holds_but_not_returning_or_paying() -> None:
    world = World(copies=2)
    assert world.borrow(ALICE).status == 201
    loan_id = world.call("GET", "/me/loans", ALICE).json()["items"][0]["loan_id"]
    world.clock.advance(PERIOD + 15 * DAY)
    for refused in (world.borrow(ALICE), world.call("POST", f"/me/loans/{loan_id}/renew", ALICE, CARD),
                    world.call("POST", f"/titles/{world.title_id}/holds", ALICE)):
        assert (refused.status, refused.json()["reason"], refused.json()["block_reasons"]) == (
            403, "account_blocked", ["overdue_loan"])
    assert world.borrow(BOB).status == 201  # only alice is blocked
    assert world.call("POST", f"/books/{world.copies[0].book_id}/return", ALICE).status == 200
    assert world.call("POST", "/me/account/payments", ALICE, CARD).status == 201
    assert world.call("GET", "/me/account", ALICE).json()["balance_cents"] == 0


def test_renewing_an_overdue_loan_settles_the_late_fee_so_far() -> None:
    world = World()
    assert world.borrow(ALICE).status == 201
    loan_id = world.call("GET", "/me/loans", ALICE).json()["items"][0]["loan_id"]
    world.clock.advance(PERIOD + 2 * DAY + HOUR)
    assert world.call("POST", f"/me/loans/{loan_id}/renew", ALICE, CARD).status == 200
    assert world.call("GET", "/me/account", ALICE).json()["balance_cents"] == 75
    world.clock.advance(PERIOD - HOUR)  # back before the new due date
    assert world.call("POST", f"/books/{world.copies[0].book_id}/return", ALICE).status == 200
    assert world.call("GET", "/me/account", ALICE).json()["balance_cents"] == 75  # nothing more


def test_the_overdue_job_declares_lost_and_the_copy_coming_back_reverses_the_lost_charge() -> None:
    world = World()
    assert world.borrow(ALICE).status == 201
    world.clock.advance(PERIOD + 61 * DAY)
    (lost,) = fees.declare_lost(world.store, world.clock, lost_after=60 * DAY, fees=DAILY)
    assert world.store.get_book(lost.book_id).status.value == "lost"
    assert world.call("GET", "/me/account", ALICE).json()["balance_cents"] == 3000  # late fee (capped) + price
    assert world.call("POST", f"/books/{lost.book_id}/return", LIBBY).status == 200  # at the desk
    account = world.call("GET", "/me/account", ALICE).json()
    assert account["balance_cents"] == 1500 and account["charges"][0]["kind"] == "lost_item_reversed"
    assert world.store.get_book(lost.book_id).status.value == "available"


def test_paying_runs_the_money_steps_and_a_declined_card_changes_nothing() -> None:
    world = World()
    late_return(world, 2 * DAY + HOUR)
    declined = world.call("POST", "/me/account/payments", ALICE, {"payment_method": "pm_card_chargeCustomerFail"})
    assert declined.status == 402 and world.call("GET", "/me/account", ALICE).json()["balance_cents"] == 75
    paid = world.call("POST", "/me/account/payments", ALICE, CARD)
    assert paid.status == 201 and paid.json()["payment"]["status"] == "captured"
    fee_payments = [p for p in world.store.payments.values() if p.kind is PaymentKind.FEE_PAYMENT]
    assert sorted(p.state.value for p in fee_payments) == ["captured", "failed"]
    assert world.call("POST", "/me/account/payments", ALICE, CARD).json()["reason"] == "nothing_to_pay"


def test_reconcile_captures_a_credited_fee_payment_and_releases_one_never_credited() -> None:
    world = World()
    late_return(world, 2 * DAY + HOUR)
    store, gateway = world.store, world.gateway
    credited = payment_flow.authorize(store, gateway, Payment(
        "p-credited", PaymentKind.FEE_PAYMENT, None, ALICE, 75, "usd", PaymentState.PENDING), "pm_card_visa")
    store.record_fee_payment(credited.payment_id, ALICE)  # ... and the process died before capture
    orphan = payment_flow.authorize(store, gateway, Payment(
        "p-orphan", PaymentKind.FEE_PAYMENT, None, ALICE, 75, "usd", PaymentState.PENDING), "pm_card_visa")
    report = reconcile.reconcile(store, gateway, grace_seconds=0)
    assert report.actions == {"captured": 1, "released": 1}
    assert store.get_payment(credited.payment_id).state is PaymentState.CAPTURED
    assert store.get_payment(orphan.payment_id).state is PaymentState.CANCELED
    assert store.account(ALICE, "usd").balance_cents == 0
    assert reconcile.reconcile(store, gateway, grace_seconds=0).examined == 0


def test_only_librarians_find_patrons_and_waive() -> None:
    world = World()
    late_return(world, 2 * DAY + HOUR)
    found = world.call("GET", "/patrons", LIBBY, query="q=alice").json()["items"]
    (patron,) = [p for p in found if p["sub"] == "alice"]
    charge = world.call("GET", "/me/account", ALICE).json()["charges"][0]["charge_id"]
    waive = f"/patrons/{patron['patron_id']}/charges/{charge}/waive"
    assert world.call("POST", waive, ALICE, {"reason": "mine"}).status == 403
    assert world.call("GET", "/patrons", ALICE).status == 403
    with pytest.raises(NotAllowed):
        fees.waive(world.store, ALICE, patron["patron_id"], charge, "mine")
    assert world.call("POST", waive, LIBBY, {"reason": "goodwill"}).status == 201
    assert world.call("GET", f"/patrons/{patron['patron_id']}", LIBBY).json()["account"]["charges"][0]["reason"] == "goodwill"


def test_the_fee_settings_are_iso_periods_with_the_issues_defaults() -> None:
    s = Settings()
    assert (s.late_fee_cents, s.fee_interval, s.fee_grace_period, s.lost_after, s.max_balance_cents,
            s.block_overdue_after) == (25, DAY, DAY, 60 * DAY, 1000, 14 * DAY)
    read = from_env({"FEE_INTERVAL": "PT1S", "FEE_GRACE_PERIOD": "PT2S", "LOST_AFTER": "PT5S", "BLOCK_OVERDUE_AFTER": "P2D",
                     "LATE_FEE_CENTS": "10", "MAX_BALANCE_CENTS": "0"}, layers=())
    assert (read.fee_interval, read.fee_grace_period, read.lost_after, read.block_overdue_after) == (
        timedelta(seconds=1), timedelta(seconds=2), timedelta(seconds=5), 2 * DAY)
    assert (read.late_fee_cents, read.max_balance_cents) == (10, 0)
