"""The desk's catalogue (lending.desk_ports.DeskStore), run against PostgreSQL and against the in-memory fake,
with the check-in through lending.desk on both."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from lending import desk, payment_flow
from lending.desk_model import CopyChanges, NewCopy, NewTitle, TitleChanges
from lending.errors import CatalogueConflict, NotOnLoan, TitleNotFound, WithdrawalRefused
from lending.model import BookStatus, PaymentKind, User
from tests.support import marc_files as m
from tests.support.fake_desk import FakeDeskStore
from tests.support.fakes import FakeGateway

ALICE, BOB = User("https://issuer.test", "alice"), User("https://issuer.test", "bob")
LIBRARIAN = User("https://issuer.test", "libby", is_librarian=True)
NOW = datetime.now(UTC)
WEEK = timedelta(days=7)


@pytest.fixture(params=["postgres", "fake"])
def desk_store(request: pytest.FixtureRequest) -> Iterator[Any]:
    yield request.getfixturevalue("store") if request.param == "postgres" else FakeDeskStore()


def a_title(store: Any, copies: int = 1) -> tuple[str, list[Any]]:
    title_id = store.create_title(NewTitle(m.new_isbn13(), "Emma", "Jane Austen", 1815, "en"))
    return title_id, store.add_copies(title_id, [NewCopy(999, 99, "usd", m.new_barcode()) for _ in range(copies)])


def lend(store: Any, copy: Any, who: User = ALICE) -> None:
    book = store.get_book(copy.book_id)
    payment = payment_flow.new_payment(PaymentKind.BORROW_FEE, book, who, idempotency_key=None, request_id=None)
    authorised = payment_flow.authorize(store, FakeGateway(), payment, "pm_card_visa")
    store.open_loan(copy.book_id, who, authorised.payment_id, NOW + timedelta(days=21))


def test_a_title_is_one_per_isbn_and_its_edits_reach_its_copies(desk_store: Any) -> None:
    title_id, (copy,) = a_title(desk_store)
    isbn = desk_store.get_title(title_id).summary.title.isbn
    with pytest.raises(CatalogueConflict) as twice:
        desk_store.create_title(NewTitle(isbn, "Emma", "Jane Austen"))
    assert twice.value.extra["reason"] == "duplicate_isbn"

    desk_store.edit_title(title_id, TitleChanges(title="Emma: A Novel"))

    assert desk_store.get_title(title_id).summary.title.title == "Emma: A Novel"
    assert desk_store.get_book(copy.book_id).title == "Emma: A Novel"
    with pytest.raises(TitleNotFound):
        desk_store.edit_title("00000000-0000-0000-0000-000000000000", TitleChanges(title="X"))


def test_barcodes_are_unique_given_or_generated_and_a_refused_batch_adds_nothing(desk_store: Any) -> None:
    title_id, (copy,) = a_title(desk_store)
    (made,) = desk_store.add_copies(title_id, [NewCopy(999, 99, "usd")])
    assert made.barcode and made.barcode != copy.barcode
    assert desk_store.copy_by_barcode(copy.barcode).book_id == copy.book_id
    with pytest.raises(CatalogueConflict) as taken:
        desk_store.add_copies(title_id, [NewCopy(999, 99, "usd", m.new_barcode()), NewCopy(999, 99, "usd", copy.barcode)])
    assert taken.value.extra["reason"] == "duplicate_barcode"
    assert desk_store.get_title(title_id).summary.copies_total == 2
    with pytest.raises(CatalogueConflict):
        desk_store.edit_copy(made.book_id, CopyChanges(barcode=copy.barcode))

    changed = desk_store.edit_copy(made.book_id, CopyChanges(borrow_fee_cents=450))

    assert (changed.borrow_fee_cents, changed.price_cents) == (450, 999)
    assert desk_store.copy_by_barcode(m.new_barcode()) is None


def test_only_a_copy_on_the_shelf_is_withdrawn_and_then_it_leaves_the_counts(desk_store: Any) -> None:
    title_id, (lent, spare) = a_title(desk_store, copies=2)
    lend(desk_store, lent)
    with pytest.raises(WithdrawalRefused) as on_loan:
        desk_store.withdraw_copy(lent.book_id, "damaged")
    assert (on_loan.value.extra["reason"], on_loan.value.extra["book_status"]) == ("copy_on_loan", "borrowed")

    gone = desk_store.withdraw_copy(spare.book_id, "damaged")

    assert (gone.status, gone.withdrawn_reason) == (BookStatus.WITHDRAWN, "damaged") and gone.withdrawn_at
    with pytest.raises(WithdrawalRefused) as again:
        desk_store.withdraw_copy(spare.book_id, "damaged")
    assert again.value.extra["reason"] == "already_withdrawn"
    assert desk_store.get_title(title_id).summary.copies_total == 1


def test_check_in_goes_through_the_return_and_routes_the_copy_to_the_next_hold(desk_store: Any) -> None:
    title_id, (copy,) = a_title(desk_store)
    lend(desk_store, copy)
    desk_store.place_hold(title_id, BOB, now=NOW, max_holds=10)

    done = desk.check_in(desk_store, desk_store, LIBRARIAN, copy.barcode, now=NOW, pickup_period=WEEK)

    assert (done.action, done.patron.subject, done.borrower.subject) == ("to_hold_shelf", "bob", "alice")
    assert abs(done.ready_until - (NOW + WEEK)) < timedelta(seconds=5)
    with pytest.raises(NotOnLoan) as twice:
        desk.check_in(desk_store, desk_store, LIBRARIAN, copy.barcode, now=NOW, pickup_period=WEEK)
    assert twice.value.extra == {"book_status": "on_hold_shelf", "reason": "not_on_loan"}
