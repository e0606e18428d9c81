"""The notices part of the LendingStore contract, run against PostgreSQL and against the in-memory fake:
one notice per kind and event, claims no second sender gets, backoff, failed, no_address, preferences."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import pytest

from lending import payment_flow
from lending.model import NewBook, PaymentKind, User
from lending.notice_model import NoticeKind, NoticeState
from lending.ports import LendingStore
from tests.support.fakes import FakeGateway, FakeStore

ALICE = User("https://issuer.test", "alice", name="Alice", email="alice@example.org")
BOB = User("https://issuer.test", "bob", name="Bob")  # no email
NOW = datetime.now(UTC).replace(microsecond=0)


@pytest.fixture(params=["postgres", "fake"])
def any_store(request: pytest.FixtureRequest) -> Iterator[LendingStore]:
    yield request.getfixturevalue("store") if request.param == "postgres" else FakeStore()


def lent(store: LendingStore, who: User, due: datetime, isbn: str = "9780261102217") -> str:
    book = store.add_book(NewBook(isbn, "The Hobbit", "J. R. R. Tolkien", 1500, 200, "usd"))
    payment = payment_flow.new_payment(PaymentKind.BORROW_FEE, book, who, idempotency_key=None, request_id=None)
    pid = payment_flow.authorize(store, FakeGateway(), payment, "pm_card_visa").payment_id
    return store.open_loan(book.book_id, who, pid, due).loan_id


def test_a_loan_due_soon_gets_one_reminder_per_due_date(any_store: LendingStore) -> None:
    any_store.remember_patron(ALICE)
    loan_id = lent(any_store, ALICE, NOW + timedelta(days=1))
    lent(any_store, ALICE, NOW + timedelta(days=5))  # not yet
    assert any_store.write_due_soon_notices(now=NOW, before=NOW + timedelta(days=2)) == 1
    assert any_store.write_due_soon_notices(now=NOW, before=NOW + timedelta(days=2)) == 0
    [notice] = any_store.notices_of(ALICE)
    assert (notice.kind, notice.state, notice.loan_id) == (NoticeKind.DUE_SOON, NoticeState.PENDING, loan_id)
    assert notice.details["title"] == "The Hobbit"
    assert datetime.fromisoformat(notice.details["due_at"]) == NOW + timedelta(days=1)


def test_no_reminders_for_a_patron_who_turned_them_off_but_overdue_notices_still(any_store: LendingStore) -> None:
    any_store.remember_patron(ALICE)
    any_store.set_reminders(ALICE, False)
    assert any_store.find_patron(ALICE.issuer, ALICE.subject).reminders is False
    lent(any_store, ALICE, NOW + timedelta(hours=1))
    assert any_store.write_due_soon_notices(now=NOW, before=NOW + timedelta(days=2)) == 0
    assert any_store.write_overdue_notices(now=NOW + timedelta(hours=2), second_after=NOW - timedelta(days=7)) == 1


def test_overdue_notices_on_the_first_day_and_after_a_week_each_once(any_store: LendingStore) -> None:
    lent(any_store, ALICE, NOW - timedelta(hours=1))
    week = timedelta(days=7)
    assert any_store.write_overdue_notices(now=NOW, second_after=NOW - week) == 1
    assert any_store.write_overdue_notices(now=NOW + timedelta(days=1), second_after=NOW + timedelta(days=1) - week) == 0
    later = NOW + timedelta(days=8)
    assert any_store.write_overdue_notices(now=later, second_after=later - week) == 1
    assert any_store.write_overdue_notices(now=later, second_after=later - week) == 0
    stages = sorted(n.details["stage"] for n in any_store.notices_of(ALICE))
    assert stages == [1, 2]


def test_a_claim_is_given_once_and_sent_or_retried_or_failed(any_store: LendingStore) -> None:
    any_store.remember_patron(ALICE)
    lent(any_store, ALICE, NOW + timedelta(days=1))
    any_store.write_due_soon_notices(now=NOW, before=NOW + timedelta(days=2))
    later = NOW + timedelta(minutes=1)
    claimed = any_store.claim_notice(now=later)
    assert claimed is not None and claimed.email == ALICE.email and claimed.patron_name == "Alice"
    assert claimed.notice.attempts == 1
    assert any_store.claim_notice(now=later) is None  # sending: nobody else gets it
    any_store.notice_not_sent(claimed.notice.notice_id, error="451 not now", retry_at=later + timedelta(minutes=5))
    assert any_store.claim_notice(now=later) is None  # not before its retry time
    again = any_store.claim_notice(now=later + timedelta(minutes=5))
    assert again is not None and again.notice.attempts == 2
    any_store.notice_sent(again.notice.notice_id, to=ALICE.email, now=later)
    [notice] = any_store.notices_of(ALICE)
    assert notice.state is NoticeState.SENT and notice.sent_at is not None
    any_store.notice_not_sent(notice.notice_id, error="late", retry_at=None)  # a sent notice stays sent
    assert any_store.notices_of(ALICE)[0].state is NoticeState.SENT


def test_a_patron_without_an_address_keeps_the_notice_unsent(any_store: LendingStore) -> None:
    any_store.remember_patron(BOB)
    lent(any_store, BOB, NOW - timedelta(hours=1))
    any_store.write_overdue_notices(now=NOW, second_after=NOW - timedelta(days=7))
    claimed = any_store.claim_notice(now=NOW + timedelta(minutes=1))
    assert claimed is not None and claimed.email is None
    assert [n.state for n in any_store.notices_of(BOB)] == [NoticeState.NO_ADDRESS]
    assert any_store.claim_notice(now=NOW + timedelta(days=1)) is None


def test_a_claim_left_by_a_sender_that_died_is_failed_never_sent_again(any_store: LendingStore) -> None:
    any_store.remember_patron(ALICE)
    lent(any_store, ALICE, NOW - timedelta(hours=1))
    any_store.write_overdue_notices(now=NOW, second_after=NOW - timedelta(days=7))
    claimed = any_store.claim_notice(now=NOW + timedelta(minutes=1))
    assert claimed is not None
    assert any_store.abandon_interrupted_notices(claimed_before=NOW) == 0
    assert any_store.abandon_interrupted_notices(claimed_before=NOW + timedelta(hours=1)) == 1
    assert any_store.notices_of(ALICE)[0].state is NoticeState.FAILED
    assert any_store.claim_notice(now=NOW + timedelta(days=1)) is None


def test_a_returned_copy_on_the_hold_shelf_tells_the_patron_once(any_store: LendingStore) -> None:
    book = any_store.add_book(NewBook("9780261102217", "The Hobbit", "J. R. R. Tolkien", 1500, 200, "usd"))
    payment = payment_flow.new_payment(PaymentKind.BORROW_FEE, book, ALICE, idempotency_key=None, request_id=None)
    pid = payment_flow.authorize(any_store, FakeGateway(), payment, "pm_card_visa").payment_id
    any_store.open_loan(book.book_id, ALICE, pid, NOW + timedelta(days=21))
    hold = any_store.place_hold(book.title_id or "", BOB, now=NOW, max_holds=10)
    any_store.close_loan(book.book_id, ALICE, now=NOW, pickup_period=timedelta(days=7))
    [notice] = any_store.notices_of(BOB)
    assert (notice.kind, notice.hold_id) == (NoticeKind.HOLD_READY, hold.hold_id)
    assert datetime.fromisoformat(notice.details["ready_until"]) == NOW + timedelta(days=7)
    assert notice.details["title"] == "The Hobbit"
