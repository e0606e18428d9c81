"""The fees part of the LendingStore contract (late fees, lost and found, the account, paying it,
waivers, finding patrons), run against PostgreSQL and against the in-memory fake."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import pytest

from lending import payment_flow
from lending.errors import BalanceChanged, ChargeNotFound, NotYourLoan, PatronNotFound, PaymentReleased, WaiverRefused
from lending.fees_model import ChargeKind, FeePolicy
from lending.model import BookStatus, NewBook, Payment, PaymentKind, PaymentState, User
from lending.ports import LendingStore
from tests.support.fakes import FakeGateway, FakeStore

ALICE, BOB = User("https://issuer.test", "alice", name="Alice Liddell", email="alice@example.org"), User("https://issuer.test", "bob")
LIBBY = User("https://issuer.test", "libby", name="Libby", is_librarian=True)
NOW = datetime.now(UTC).replace(microsecond=0)
FEES = FeePolicy(late_fee_cents=25, interval=timedelta(days=1), grace=timedelta(days=1))
DAY = timedelta(days=1)


@pytest.fixture(params=["postgres", "fake"])
def any_store(request: pytest.FixtureRequest) -> Iterator[LendingStore]:
    yield request.getfixturevalue("store") if request.param == "postgres" else FakeStore()


def lent(store: LendingStore, due: datetime, who: User = ALICE, isbn: str = "9780261102217"):
    book = store.add_book(NewBook(isbn, "The Hobbit", "J. R. R. Tolkien", 1500, 200, "usd"))
    payment = payment_flow.new_payment(PaymentKind.BORROW_FEE, book, who, idempotency_key=None, request_id=None)
    payment = payment_flow.authorize(store, FakeGateway(), payment, "pm_card_visa")
    return book, store.lend_copy_of_title(book.title_id, who, payment.payment_id, due)


def fee_payment(store: LendingStore, amount: int, who: User = ALICE) -> str:
    payment = Payment(str(uuid.uuid4()), PaymentKind.FEE_PAYMENT, None, who, amount, "usd", PaymentState.PENDING)
    return payment_flow.authorize(store, FakeGateway(), payment, "pm_card_visa").payment_id


def kinds(store: LendingStore, who: User = ALICE) -> list[tuple[str, int]]:
    return sorted((c.kind.value, c.amount_cents) for c in store.account(who, "usd").charges)


def test_a_late_return_adds_a_late_fee_per_started_day_past_the_grace(any_store: LendingStore) -> None:
    book, loan = lent(any_store, NOW - 2 * DAY - timedelta(hours=1))  # 2 days and an hour: 3 started days
    assert any_store.account(ALICE, "usd").oldest_due_at == loan.due_at
    any_store.close_loan(book.book_id, ALICE, now=NOW, fees=FEES)
    account = any_store.account(ALICE, "usd")
    assert account.balance_cents == 75 and account.oldest_due_at is None
    (charge,) = account.charges
    assert (charge.kind, charge.loan_id, charge.title, charge.counts) == (ChargeKind.LATE_FEE, loan.loan_id, "The Hobbit", True)
    assert (charge.patron_iss, charge.patron_sub, charge.amount_cents, charge.currency) == (ALICE.issuer, ALICE.subject, 75, "usd")
    assert isinstance(charge.created_at, datetime) and abs(charge.created_at - datetime.now(UTC)) < timedelta(minutes=5)


def test_within_the_grace_period_there_is_no_fee_and_the_fee_is_capped_at_the_price(any_store: LendingStore) -> None:
    on_time, _ = lent(any_store, NOW - timedelta(hours=23))
    any_store.close_loan(on_time.book_id, ALICE, now=NOW, fees=FEES)
    assert any_store.account(ALICE, "usd").charges == []
    very_late, _ = lent(any_store, NOW - 100 * DAY, isbn="9780141439518")
    any_store.close_loan(very_late.book_id, ALICE, now=NOW, fees=FEES)
    assert kinds(any_store) == [("late_fee", 1500)]


def test_renewing_an_overdue_loan_settles_the_fee_so_far_and_the_return_counts_from_the_new_due_date(
        any_store: LendingStore) -> None:
    book, loan = lent(any_store, NOW - 2 * DAY - timedelta(hours=12))
    renewal = payment_flow.authorize(any_store, FakeGateway(), payment_flow.new_payment(
        PaymentKind.RENEWAL, book, ALICE, idempotency_key=None, request_id=None), "pm_card_visa")
    renewed = any_store.renew_loan(loan.loan_id, ALICE, renewal.payment_id, now=NOW, loan_period=21 * DAY,
                                   max_renewals=2, fees=FEES)
    assert renewed.due_at == NOW + 21 * DAY and kinds(any_store) == [("late_fee", 75)]
    any_store.close_loan(book.book_id, ALICE, now=renewed.due_at + DAY + timedelta(hours=1), fees=FEES)
    assert kinds(any_store) == [("late_fee", 50), ("late_fee", 75)]


def test_a_loan_overdue_by_lost_after_is_declared_lost_and_coming_back_reverses_the_lost_charge(
        any_store: LendingStore) -> None:
    book, loan = lent(any_store, NOW - 61 * DAY)
    fresh, _ = lent(any_store, NOW - DAY, who=BOB, isbn="9780141439518")
    (lost,) = any_store.declare_lost(now=NOW, lost_after=60 * DAY, fees=FEES)
    assert (lost.loan_id, lost.book_id) == (loan.loan_id, book.book_id) and lost.late_fee_charge_id
    by_kind = {c.kind: c.charge_id for c in any_store.account(ALICE, "usd").charges}
    assert (lost.lost_charge_id, lost.late_fee_charge_id) == (by_kind[ChargeKind.LOST_ITEM], by_kind[ChargeKind.LATE_FEE])
    assert any_store.get_book(book.book_id).status is BookStatus.LOST
    assert any_store.get_book(fresh.book_id).status is BookStatus.BORROWED
    assert kinds(any_store) == [("late_fee", 1500), ("lost_item", 1500)]
    assert any_store.declare_lost(now=NOW, lost_after=60 * DAY, fees=FEES) == []  # a second run finds nothing
    (closed,) = [x for x in any_store.loans_of(ALICE) if x.loan_id == loan.loan_id]
    assert closed.closed_reason == "lost" and closed.returned_at is not None

    any_store.place_hold(book.title_id, BOB, now=NOW, max_holds=10)
    with pytest.raises(NotYourLoan):
        any_store.close_loan(book.book_id, BOB, now=NOW + DAY, fees=FEES)
    any_store.close_loan(book.book_id, ALICE, now=NOW + DAY, fees=FEES)
    assert kinds(any_store) == [("late_fee", 1500), ("lost_item", 1500), ("lost_item_reversed", -1500)]
    assert any_store.account(ALICE, "usd").balance_cents == 1500  # the late fee stays
    assert any_store.get_book(book.book_id).status is BookStatus.ON_HOLD_SHELF  # for Bob, next in line


def test_paying_the_balance_credits_it_once_and_a_second_payment_finds_it_paid(any_store: LendingStore) -> None:
    book, _ = lent(any_store, NOW - 3 * DAY)
    any_store.close_loan(book.book_id, ALICE, now=NOW, fees=FEES)
    first, second = fee_payment(any_store, 75), fee_payment(any_store, 75)
    charge = any_store.record_fee_payment(first, ALICE)
    assert (charge.kind, charge.amount_cents, charge.payment_id) == (ChargeKind.PAYMENT, -75, first)
    assert any_store.fee_payment_charge(first) == charge
    assert any_store.account(ALICE, "usd").balance_cents == 0
    with pytest.raises(BalanceChanged):
        any_store.record_fee_payment(second, ALICE)
    assert any_store.fee_payment_charge(second) is None
    any_store.update_payment(second, PaymentState.CANCELED)
    with pytest.raises(PaymentReleased):
        any_store.record_fee_payment(second, ALICE)
    # A credited payment that holds the money is not reconcile's to refund.
    any_store.update_payment(first, PaymentState.CAPTURED)
    assert first not in any_store.payments_to_settle(0)
    # Released (say, by reconcile after the hold vanished), its credit no longer counts: the debt is back.
    any_store.update_payment(first, PaymentState.CANCELED)
    assert any_store.account(ALICE, "usd").balance_cents == 75


def test_a_librarian_waives_a_debit_once_with_a_reason(any_store: LendingStore) -> None:
    any_store.remember_patron(ALICE)
    patron = any_store.find_patron(ALICE.issuer, ALICE.subject)
    book, _ = lent(any_store, NOW - 3 * DAY)
    any_store.close_loan(book.book_id, ALICE, now=NOW, fees=FEES)
    (fee,) = any_store.account(ALICE, "usd").charges
    waiver = any_store.waive_charge(patron.patron_id, fee.charge_id, LIBBY, "first time")
    assert (waiver.kind, waiver.amount_cents, waiver.cancels, waiver.reason, waiver.librarian) == (
        ChargeKind.WAIVER, -75, fee.charge_id, "first time", "Libby")
    assert any_store.account(ALICE, "usd").balance_cents == 0
    with pytest.raises(WaiverRefused) as twice:
        any_store.waive_charge(patron.patron_id, fee.charge_id, LIBBY, "again")
    assert twice.value.extra["reason"] == "already_waived"
    with pytest.raises(WaiverRefused) as credit:
        any_store.waive_charge(patron.patron_id, waiver.charge_id, LIBBY, "a credit")
    assert credit.value.extra["reason"] == "not_waivable"
    with pytest.raises(ChargeNotFound):
        any_store.waive_charge(patron.patron_id, str(uuid.uuid4()), LIBBY, "no such charge")
    with pytest.raises(PatronNotFound):
        any_store.waive_charge(str(uuid.uuid4()), fee.charge_id, LIBBY, "no such patron")


def test_patrons_are_found_by_name_email_or_subject(any_store: LendingStore) -> None:
    any_store.remember_patron(ALICE)
    any_store.remember_patron(BOB)

    def found(q: str | None, limit: int = 100) -> list[str]:  # patrons are kept (never truncated): other tests' are of other issuers
        return [p.subject for p in any_store.search_patrons(q, limit) if p.issuer == ALICE.issuer]

    assert found("lidd") == ["alice"]
    assert found("ALICE@example") == ["alice"]
    assert found("bob") == ["bob"]
    # everyone, named first: other tests' patrons (earlier in the session) may outnumber a page
    assert set(found(None, 100_000)) >= {"alice", "bob"}
    assert any_store.search_patrons("100%_", 10) == []
    alice = any_store.find_patron(ALICE.issuer, ALICE.subject)
    assert any_store.patron_by_id(alice.patron_id) == alice
    assert any_store.patron_by_id(str(uuid.uuid4())) is None


def test_the_standing_a_block_is_decided_on_is_the_accounts_balance_and_oldest_due_date(any_store: LendingStore) -> None:
    assert (any_store.standing(ALICE, "usd").balance_cents, any_store.standing(ALICE, "usd").oldest_due_at) == (0, None)
    late, _ = lent(any_store, NOW - 3 * DAY)
    any_store.close_loan(late.book_id, ALICE, now=NOW, fees=FEES)  # 75 due, as in the payment test above
    lent(any_store, NOW - 2 * DAY, isbn="9780547928227")
    _, newest = lent(any_store, NOW + 5 * DAY, isbn="9780007525546")
    lent(any_store, NOW - 9 * DAY, who=BOB, isbn="9780345339706")  # another patron's loan is not Alice's
    standing, account = any_store.standing(ALICE, "usd"), any_store.account(ALICE, "usd")
    assert (standing.balance_cents, standing.oldest_due_at, standing.charges) == (75, NOW - 2 * DAY, [])
    assert (account.balance_cents, account.oldest_due_at) == (standing.balance_cents, standing.oldest_due_at)
    assert any_store.standing(ALICE, "eur").balance_cents == 0 and newest.due_at == NOW + 5 * DAY
    standing_too, copy = any_store.standing_and_copy(ALICE, "usd", newest.book_id)
    assert (standing_too.balance_cents, standing_too.oldest_due_at, standing_too.charges) == (75, NOW - 2 * DAY, [])
    assert copy == any_store.get_book(newest.book_id) and copy is not None and copy.status is BookStatus.BORROWED
    assert any_store.standing_and_copy(BOB, "usd", str(uuid.uuid4()))[1] is None  # no such copy
    assert any_store.standing_and_copy(BOB, "usd", late.book_id)[0].oldest_due_at == NOW - 9 * DAY


def test_a_patron_with_no_charges_owes_nothing(any_store: LendingStore) -> None:
    newcomer = User("https://issuer.test", f"new-{uuid.uuid4()}")
    account = any_store.account(newcomer, "usd")
    assert (account.balance_cents, account.charges, account.oldest_due_at) == (0, [], None)
    assert any_store.standing(newcomer, "usd").balance_cents == 0


def test_a_lost_charge_reversed_by_the_copy_coming_back_cannot_be_waived_while_other_fees_are_owed(
        any_store: LendingStore) -> None:
    any_store.remember_patron(ALICE)
    patron = any_store.find_patron(ALICE.issuer, ALICE.subject)
    book, _ = lent(any_store, NOW - 61 * DAY)
    any_store.declare_lost(now=NOW, lost_after=60 * DAY, fees=FEES)
    any_store.close_loan(book.book_id, ALICE, now=NOW + DAY, fees=FEES)  # found: the lost charge is reversed
    assert any_store.account(ALICE, "usd").balance_cents == 1500  # the late fee is still owed
    (lost,) = [c for c in any_store.account(ALICE, "usd").charges if c.kind is ChargeKind.LOST_ITEM]
    with pytest.raises(WaiverRefused) as refused:
        any_store.waive_charge(patron.patron_id, lost.charge_id, LIBBY, "nothing left of it to waive")
    assert refused.value.extra["reason"] == "not_waivable"
    assert any_store.account(ALICE, "usd").balance_cents == 1500


def test_the_smallest_fee_owed_one_cent_can_be_waived(any_store: LendingStore) -> None:
    any_store.remember_patron(ALICE)
    patron = any_store.find_patron(ALICE.issuer, ALICE.subject)
    book, _ = lent(any_store, NOW - timedelta(hours=1))
    any_store.close_loan(book.book_id, ALICE, now=NOW, fees=FeePolicy(late_fee_cents=1, interval=DAY, grace=timedelta(0)))
    (fee,) = any_store.account(ALICE, "usd").charges
    assert fee.amount_cents == 1
    waiver = any_store.waive_charge(patron.patron_id, fee.charge_id, LIBBY, "one cent")
    assert waiver.amount_cents == -1 and any_store.account(ALICE, "usd").balance_cents == 0
