"""The LendingStore contract, run against PostgreSQL and against the in-memory fake."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import pytest

from lending import payment_flow
from lending.errors import BookNotFound, BookUnavailable, NotOnLoan, NotYourLoan, PaymentReleased
from lending.model import BookQuery, BookStatus, NewBook, PaymentKind, PaymentState, User
from lending.ports import LendingStore, StoredResponse
from tests.support.fakes import FakeGateway, FakeStore

ALICE = User("https://issuer.test", "alice")
BOB = User("https://issuer.test", "bob")
LIBRARIAN = User("https://issuer.test", "libby", is_librarian=True)
DUE = datetime.now(UTC) + timedelta(days=21)


@pytest.fixture(params=["postgres", "fake"])
def any_store(request: pytest.FixtureRequest) -> Iterator[LendingStore]:
    if request.param == "postgres":
        yield request.getfixturevalue("store")
    else:
        yield FakeStore()


def a_book(store: LendingStore, title: str = "Emma"):
    return store.add_book(NewBook("9780141439587", title, "Jane Austen", 999, 99, "usd"))


def authorised(store: LendingStore, book, payer: User = ALICE, kind: PaymentKind = PaymentKind.BORROW_FEE):
    payment = payment_flow.new_payment(kind, book, payer, idempotency_key=None, request_id=None)
    return payment_flow.authorize(store, FakeGateway(), payment, "pm_card_visa")


def test_a_new_book_is_available_and_found(any_store: LendingStore) -> None:
    book = a_book(any_store)
    assert any_store.get_book(book.book_id) == book
    assert book.status is BookStatus.AVAILABLE
    page = any_store.list_books(BookQuery(text="emma"))
    assert [b.book_id for b in page.items] == [book.book_id] and page.total == 1
    assert any_store.list_books(BookQuery(status=BookStatus.SOLD)).total == 0


def test_opening_a_loan_moves_the_book_and_attaches_the_payment(any_store: LendingStore) -> None:
    book = a_book(any_store)
    payment = authorised(any_store, book)
    loan = any_store.open_loan(book.book_id, ALICE, payment.payment_id, DUE)
    assert any_store.get_book(book.book_id).status is BookStatus.BORROWED
    assert any_store.get_payment(payment.payment_id).loan_id == loan.loan_id
    assert [x.loan_id for x in any_store.loans_of(ALICE)] == [loan.loan_id]


def test_a_second_loan_of_a_borrowed_book_is_refused(any_store: LendingStore) -> None:
    book = a_book(any_store)
    any_store.open_loan(book.book_id, ALICE, authorised(any_store, book).payment_id, DUE)
    with pytest.raises(BookUnavailable):
        any_store.open_loan(book.book_id, BOB, authorised(any_store, book, BOB).payment_id, DUE)
    assert len(any_store.open_loans()) == 1


def test_a_sold_book_can_be_neither_lent_nor_sold_again(any_store: LendingStore) -> None:
    book = a_book(any_store)
    any_store.record_sale(book.book_id, ALICE, authorised(any_store, book, kind=PaymentKind.PURCHASE).payment_id)
    with pytest.raises(BookUnavailable):
        any_store.open_loan(book.book_id, BOB, authorised(any_store, book, BOB).payment_id, DUE)
    with pytest.raises(BookUnavailable):
        any_store.record_sale(book.book_id, BOB, authorised(any_store, book, BOB, PaymentKind.PURCHASE).payment_id)
    assert any_store.get_book(book.book_id).status is BookStatus.SOLD


def test_a_released_payment_cannot_buy_a_loan(any_store: LendingStore) -> None:
    book = a_book(any_store)
    payment = authorised(any_store, book)
    any_store.update_payment(payment.payment_id, PaymentState.CANCELED)
    with pytest.raises(PaymentReleased):
        any_store.open_loan(book.book_id, ALICE, payment.payment_id, DUE)
    assert any_store.get_book(book.book_id).status is BookStatus.AVAILABLE
    assert [loan for loan in any_store.loans_of(ALICE) if loan.book_id == book.book_id] == []  # no loan was kept


def test_only_the_borrower_or_a_librarian_closes_a_loan(any_store: LendingStore) -> None:
    book = a_book(any_store)
    any_store.open_loan(book.book_id, ALICE, authorised(any_store, book).payment_id, DUE)
    with pytest.raises(NotYourLoan):
        any_store.close_loan(book.book_id, BOB)
    closed = any_store.close_loan(book.book_id, LIBRARIAN)
    assert closed.returned_at is not None
    with pytest.raises(NotOnLoan):
        any_store.close_loan(book.book_id, ALICE)
    assert any_store.get_book(book.book_id).status is BookStatus.AVAILABLE


def test_returning_an_unknown_book_says_so_and_changes_nothing(any_store: LendingStore) -> None:
    book = a_book(any_store)
    any_store.open_loan(book.book_id, ALICE, authorised(any_store, book).payment_id, DUE)
    with pytest.raises(BookNotFound):
        any_store.close_loan(str(uuid.uuid4()), LIBRARIAN)
    assert any_store.get_book(book.book_id).status is BookStatus.BORROWED
    assert [loan.returned_at for loan in any_store.loans_of(ALICE)] == [None]


def test_conditional_payment_updates(any_store: LendingStore) -> None:
    payment = authorised(any_store, a_book(any_store))
    assert not any_store.update_payment(payment.payment_id, PaymentState.CAPTURED, only_from=(PaymentState.PENDING,))
    assert any_store.update_payment(payment.payment_id, PaymentState.CAPTURED, only_from=(PaymentState.AUTHORIZED,))
    assert any_store.get_payment(payment.payment_id).state is PaymentState.CAPTURED
    assert any_store.payment_by_intent(payment.intent_id).payment_id == payment.payment_id


def test_unsettled_payments_are_offered_to_reconcile_and_locked_while_settled(any_store: LendingStore) -> None:
    payment = authorised(any_store, a_book(any_store))
    assert any_store.payments_to_settle(3600) == []
    assert any_store.payments_to_settle(0) == [payment.payment_id]
    with any_store.settling(payment.payment_id) as first:
        assert first is not None and first.payment.payment_id == payment.payment_id
        assert not first.loan_open and not first.sale_standing
        first.mark(PaymentState.CANCELED, reason="test")
    assert any_store.get_payment(payment.payment_id).state is PaymentState.CANCELED
    assert any_store.payments_to_settle(0) == []


def test_idempotency_keys(any_store: LendingStore) -> None:
    claim = any_store.claim_idempotency_key(ALICE, "k", "fp1", 300)
    assert claim.owned
    again = any_store.claim_idempotency_key(ALICE, "k", "fp1", 300)
    assert not again.owned and again.response is None
    assert any_store.claim_idempotency_key(BOB, "k", "fp2", 300).owned
    any_store.finish_idempotency_key(ALICE, "k", StoredResponse(201, '{"a":1}', "application/json"))
    done = any_store.claim_idempotency_key(ALICE, "k", "fp1", 300)
    assert done.response == StoredResponse(201, '{"a":1}', "application/json")
    assert any_store.claim_idempotency_key(ALICE, "k", "other", 300).fingerprint == "fp1"
    any_store.claim_idempotency_key(ALICE, "released", "fp", 300)
    any_store.release_idempotency_key(ALICE, "released")
    assert any_store.claim_idempotency_key(ALICE, "released", "fp", 300).owned


def test_processor_events_are_remembered_once(any_store: LendingStore) -> None:
    assert any_store.remember_event("evt_1")
    assert not any_store.remember_event("evt_1")


def test_a_payment_settled_meanwhile_is_not_offered_again(any_store: LendingStore) -> None:
    payment = authorised(any_store, a_book(any_store))
    listed = any_store.payments_to_settle(0)
    with any_store.settling(payment.payment_id) as first:
        first.mark(PaymentState.CANCELED, reason="settled by another reconciler")
    assert listed == [payment.payment_id]
    with any_store.settling(payment.payment_id) as late:
        assert late is None
    with any_store.settling(payment.payment_id, only_unsettled=False) as forced:
        assert forced is not None


def test_a_payment_that_failed_to_settle_waits_out_its_backoff(any_store: LendingStore) -> None:
    payment = authorised(any_store, a_book(any_store))
    assert any_store.defer_settling(payment.payment_id, "ProcessorRefused: no such intent",
                                    first_delay_seconds=3600, max_delay_seconds=7200) == 1
    assert any_store.payments_to_settle(0) == []
    assert any_store.defer_settling(payment.payment_id, "again", first_delay_seconds=0, max_delay_seconds=0) == 2
    assert any_store.payments_to_settle(0) == [payment.payment_id]  # a zero backoff offers it at once


def test_a_failed_payment_with_an_intent_is_offered_until_its_intent_is_seen_closed(any_store: LendingStore) -> None:
    payment = authorised(any_store, a_book(any_store))
    any_store.update_payment(payment.payment_id, PaymentState.FAILED, reason="needs authentication")
    assert any_store.payments_to_settle(0) == [payment.payment_id]
    with any_store.settling(payment.payment_id) as settlement:
        assert settlement is not None
        settlement.intent_closed()
    assert any_store.payments_to_settle(0) == []
    assert any_store.get_payment(payment.payment_id).state is PaymentState.FAILED


def test_an_event_is_seen_only_with_the_settlement_step_that_applies_it(any_store: LendingStore) -> None:
    payment = authorised(any_store, a_book(any_store))
    with pytest.raises(RuntimeError), any_store.settling(payment.payment_id) as failing:
        assert failing.remember_event("evt_applied_later")
        failing.mark(PaymentState.CANCELED, reason="write-ahead", synced=False)
        raise RuntimeError("the processor call failed")
    with any_store.settling(payment.payment_id, only_unsettled=False) as retry:
        assert retry.remember_event("evt_applied_later")  # not seen: the first attempt failed
        retry.mark(PaymentState.CANCELED, reason="released")
    with any_store.settling(payment.payment_id, only_unsettled=False) as replay:
        assert not replay.remember_event("evt_applied_later")
        assert replay.remember_event("evt_with_nothing_to_do")
    assert not any_store.remember_event("evt_applied_later")
    assert not any_store.remember_event("evt_with_nothing_to_do")  # seen when its settlement ended


def _after_the_clock_ticks(than: datetime | None = None) -> datetime:
    """A time strictly after `than` (or now): rows written before and after it fall on either side."""
    start = than or datetime.now(UTC)
    while (now := datetime.now(UTC)) <= start:
        pass
    return now


def test_a_purge_deletes_finished_keys_and_events_older_than_its_cutoffs_in_batches(any_store: LendingStore) -> None:
    for key in ("old-1", "old-2"):
        any_store.claim_idempotency_key(ALICE, key, "fp", 300)
        any_store.finish_idempotency_key(ALICE, key, StoredResponse(201, "{}", "application/json"))
    any_store.claim_idempotency_key(ALICE, "old-unfinished", "fp", 300)
    any_store.remember_event("evt_old_1")
    any_store.remember_event("evt_old_2")
    cutoff = _after_the_clock_ticks()
    _after_the_clock_ticks(cutoff)
    any_store.claim_idempotency_key(ALICE, "new", "fp", 300)
    any_store.finish_idempotency_key(ALICE, "new", StoredResponse(201, "{}", "application/json"))
    any_store.remember_event("evt_new")

    first = any_store.purge(keys_finished_before=cutoff, events_received_before=cutoff, limit=1)
    assert (first.idempotency_keys, first.processor_events) == (1, 1)
    rest = any_store.purge(keys_finished_before=cutoff, events_received_before=cutoff, limit=10)
    assert (rest.idempotency_keys, rest.processor_events) == (1, 1)
    assert any_store.purge(keys_finished_before=cutoff, events_received_before=cutoff, limit=10) == type(rest)(0, 0)

    assert any_store.claim_idempotency_key(ALICE, "old-1", "fp", 300).owned  # forgotten: a new request
    assert not any_store.claim_idempotency_key(ALICE, "old-unfinished", "fp", 300).owned  # still in progress: kept
    assert any_store.claim_idempotency_key(ALICE, "new", "fp", 300).response is not None  # newer: still replays
    assert any_store.remember_event("evt_old_1") and not any_store.remember_event("evt_new")


def test_a_job_turn_is_held_by_one_run_at_a_time_and_remembers_the_last_finish(any_store: LendingStore) -> None:
    with any_store.job_turn("tidy") as first:
        assert first is not None and first.last_finished is None
        with any_store.job_turn("tidy") as second:
            assert second is None  # another run holds the lock
        with any_store.job_turn("other") as unrelated:
            assert unrelated is not None
        first.finished('{"deleted": 3}')
    before = datetime.now(UTC)
    with any_store.job_turn("tidy") as again:
        assert again is not None and again.last_finished is not None
        assert before - timedelta(seconds=5) < again.last_finished <= before
    with any_store.job_turn("tidy") as after_release:
        assert after_release is not None  # the lock went with the block


def test_a_patron_is_remembered_and_kept_up_to_date(any_store: LendingStore) -> None:
    carol = User("https://issuer.test", "carol-contract", name="Carol", email="carol@example.org")
    assert any_store.find_patron(carol.issuer, carol.subject) is None
    any_store.remember_patron(carol)
    first = any_store.find_patron(carol.issuer, carol.subject)
    assert first is not None and (first.name, first.email, first.reminders) == ("Carol", "carol@example.org", True)
    any_store.remember_patron(carol)  # the same claims again: the same patron, no second row
    any_store.remember_patron(User(carol.issuer, carol.subject, name="Carol B", email="not-an-address"))
    again = any_store.find_patron(carol.issuer, carol.subject)
    assert again is not None and again.patron_id == first.patron_id
    assert (again.name, again.email) == ("Carol B", None)  # an email claim that is no address is not kept
    assert any_store.find_patron(carol.issuer, "someone-else") is None


def test_a_loan_shows_its_borrowers_name(any_store: LendingStore) -> None:
    book = a_book(any_store)
    carol = User("https://issuer.test", "carol", name="Carol Crane")
    loan = any_store.open_loan(book.book_id, carol, authorised(any_store, book, carol).payment_id, DUE)
    assert loan.borrower.name == "Carol Crane"
    assert [x.borrower.name for x in any_store.loans_of(carol)] == ["Carol Crane"]


def test_a_key_left_in_progress_longer_than_stale_after_is_taken_over_by_the_same_request(
        any_store: LendingStore) -> None:
    assert any_store.claim_idempotency_key(ALICE, "crashed", "fp", 300).owned
    _after_the_clock_ticks()
    assert not any_store.claim_idempotency_key(ALICE, "crashed", "other", 0).owned  # another request: never
    assert any_store.claim_idempotency_key(ALICE, "crashed", "fp", 0).owned
    assert not any_store.claim_idempotency_key(ALICE, "crashed", "fp", 300).owned  # taken over just now
