"""The use cases (lending.services) at the edges the handlers' tests do not reach: the hold shelf
before any card is touched, a purchase lost in a race, a bought copy found again on a retry, and
the defaults. Killers of surviving mutants (tests/mutation/)."""

from __future__ import annotations

import dataclasses
from datetime import UTC, datetime, timedelta

import pytest

from lending import circulation, services
from lending.errors import BookUnavailable, HeldForAnother, NotAllowed
from lending.model import BookStatus, NewBook, PaymentState, User
from tests.support.clock import MovedClock
from tests.support.fakes import FakeGateway, FakeStore

ALICE, BOB, CAROL = (User("https://issuer.test", n) for n in ("alice", "bob", "carol"))
LIBBY = User("https://issuer.test", "libby", is_librarian=True)
NOW = datetime(2026, 3, 1, 12, tzinfo=UTC)


def a_book(store: FakeStore):
    return store.add_book(NewBook("9780141439587", "Emma", "Jane Austen", 999, 99, "usd"))


def on_the_hold_shelf_for_bob(store: FakeStore, gateway: FakeGateway):
    book = a_book(store)
    services.borrow_book(store, gateway, ALICE, book.book_id, "pm_card_visa", loan_days=14)
    circulation.place_hold(store, BOB, book.title_id, clock=MovedClock(NOW), max_holds=5)
    services.return_book(store, ALICE, book.book_id, now=NOW)
    assert store.get_book(book.book_id).status is BookStatus.ON_HOLD_SHELF
    gateway.calls.clear()
    return book


def test_a_copy_on_the_hold_shelf_is_refused_to_another_patron_before_any_card_is_touched() -> None:
    store, gateway = FakeStore(), FakeGateway()
    book = on_the_hold_shelf_for_bob(store, gateway)
    with pytest.raises(HeldForAnother):
        services.borrow_book(store, gateway, CAROL, book.book_id, "pm_card_visa", loan_days=14)
    assert gateway.calls == [] and [p.payer for p in store.payments.values()] == [ALICE]


def test_the_patron_a_copy_waits_for_borrows_it_from_the_hold_shelf() -> None:
    store, gateway = FakeStore(), FakeGateway()
    book = on_the_hold_shelf_for_bob(store, gateway)
    done = services.borrow_book(store, gateway, BOB, book.book_id, "pm_card_visa", loan_days=14)
    assert done.loan.borrower == BOB and done.payment.state is PaymentState.CAPTURED
    assert store.get_book(book.book_id).status is BookStatus.BORROWED


def test_the_defaults_lend_for_21_days_and_keep_a_copy_on_the_hold_shelf_for_7() -> None:
    store, gateway = FakeStore(), FakeGateway()
    book = a_book(store)
    loan = services.borrow_book(store, gateway, ALICE, book.book_id, "pm_card_visa", now=NOW).loan
    assert loan.due_at == NOW + timedelta(days=21)
    circulation.place_hold(store, BOB, book.title_id, clock=MovedClock(NOW), max_holds=5)
    services.return_book(store, ALICE, book.book_id, now=NOW)
    (ready,) = store.holds_of(BOB)
    assert ready.ready_until == NOW + timedelta(days=7)


class SoldMeanwhile(FakeStore):
    """Another buyer's sale commits between our check and our own (the race the store decides)."""

    def record_sale(self, book_id, buyer, payment_id):  # type: ignore[no-untyped-def]
        raise BookUnavailable("The book is sold.", book_status="sold")


def test_a_purchase_that_loses_the_race_releases_the_hold_on_the_card() -> None:
    store, gateway = SoldMeanwhile(), FakeGateway()
    book = a_book(store)
    with pytest.raises(BookUnavailable):
        services.buy_book(store, gateway, ALICE, book.book_id, "pm_card_visa")
    (payment,) = store.payments.values()
    assert payment.state is PaymentState.CANCELED and gateway.intents[payment.intent_id]["status"] == "canceled"
    assert gateway.calls == ["create", "confirm", "cancel"]


def test_a_retried_purchase_whose_answer_was_lost_gets_its_own_standing_sale() -> None:
    store, gateway = FakeStore(), FakeGateway()
    services.buy_book(store, gateway, ALICE, a_book(store).book_id, "pm_card_visa")  # her other sales: one before,
    book = a_book(store)
    first = services.buy_book(store, gateway, ALICE, book.book_id, "pm_card_visa", idempotency_key="k1")
    services.buy_book(store, gateway, ALICE, a_book(store).book_id, "pm_card_visa")  # one after (whatever the order)
    again = services.buy_book(store, gateway, ALICE, book.book_id, "pm_card_visa", idempotency_key="k1")
    assert again.purchase == first.purchase and again.payment.payment_id == first.payment.payment_id
    assert len(store.payments) == 3 and gateway.calls.count("capture") == 3


def test_what_a_use_case_returns_cannot_be_changed_afterwards() -> None:
    store, gateway = FakeStore(), FakeGateway()
    bought = services.buy_book(store, gateway, ALICE, a_book(store).book_id, "pm_card_visa")
    borrowed = services.borrow_book(store, gateway, ALICE, a_book(store).book_id, "pm_card_visa", now=NOW)
    for done in (bought, borrowed):
        with pytest.raises(dataclasses.FrozenInstanceError):
            done.payment = done.payment  # type: ignore[misc]


def test_only_a_librarian_adds_a_book_or_sees_the_books_on_loan_even_past_the_handlers() -> None:
    store, gateway = FakeStore(), FakeGateway()
    new = NewBook("9780141439587", "Emma", "Jane Austen", 999, 99, "usd")
    with pytest.raises(NotAllowed):
        services.add_book(store, ALICE, new)
    with pytest.raises(NotAllowed):
        services.books_on_loan(store, ALICE)
    assert store.books == {}
    book = services.add_book(store, LIBBY, new)
    services.borrow_book(store, gateway, ALICE, book.book_id, "pm_card_visa", now=NOW)
    assert [loan.book_id for loan in services.books_on_loan(store, LIBBY)] == [book.book_id]
