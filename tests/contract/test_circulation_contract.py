"""The circulation part of the LendingStore contract (titles, hold shelf, holds, renewals),
run against PostgreSQL and against the in-memory fake."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import pytest

from lending import payment_flow
from lending.catalogue_model import TitleQuery
from lending.circulation_model import HoldStatus
from lending.errors import (
    HeldForAnother,
    HoldNotFound,
    HoldRefused,
    LoanNotFound,
    NoCopyAvailable,
    PaymentReleased,
    RenewalRefused,
)
from lending.model import BookStatus, NewBook, PaymentKind, PaymentState, User
from lending.ports import LendingStore
from tests.support.fakes import FakeGateway, FakeStore

ALICE, BOB, CAROL = (User("https://issuer.test", s) for s in ("alice", "bob", "carol"))
NOW = datetime.now(UTC).replace(microsecond=0)
PICKUP = timedelta(days=7)
DUE = NOW + timedelta(days=21)


@pytest.fixture(params=["postgres", "fake"])
def any_store(request: pytest.FixtureRequest) -> Iterator[LendingStore]:
    yield request.getfixturevalue("store") if request.param == "postgres" else FakeStore()


def copies(store: LendingStore, n: int = 1, isbn: str = "9780261102217", title: str = "The Hobbit",
           author: str = "J. R. R. Tolkien", **more: object) -> list:
    return [store.add_book(NewBook(isbn, title, author, 1500, 200, "usd", **more)) for _ in range(n)]  # type: ignore[arg-type]


def paid(store: LendingStore, book, payer: User = ALICE, kind: PaymentKind = PaymentKind.BORROW_FEE):
    payment = payment_flow.new_payment(kind, book, payer, idempotency_key=None, request_id=None)
    return payment_flow.authorize(store, FakeGateway(), payment, "pm_card_visa").payment_id


def lend(store: LendingStore, title_id: str, who: User, book) -> object:
    return store.lend_copy_of_title(title_id, who, paid(store, book, who), DUE)


def test_copies_of_one_isbn_are_one_title_and_withdrawn_copies_are_not_counted(any_store: LendingStore) -> None:
    a, b = copies(any_store, 2, publication_year=1937, language="en")
    assert a.title_id == b.title_id is not None
    detail = any_store.get_title(a.title_id)
    assert (detail.summary.copies_total, detail.summary.copies_available, detail.summary.holds_waiting) == (2, 2, 0)
    assert detail.summary.title.language == "en" and detail.summary.title.publication_year == 1937
    assert [c.book_id for c in detail.copies] == [a.book_id, b.book_id]
    assert any_store.get_title("00000000-0000-0000-0000-000000000000") is None


def test_lending_by_title_takes_free_copies_until_none_is_left(any_store: LendingStore) -> None:
    a, b = copies(any_store, 2)
    first = lend(any_store, a.title_id, ALICE, a)
    second = lend(any_store, a.title_id, BOB, a)
    assert {first.book_id, second.book_id} == {a.book_id, b.book_id}
    # the ledger names the copy each payment paid for
    assert {any_store.get_payment(x.payment_id).book_id for x in (first, second)} == {a.book_id, b.book_id}
    with pytest.raises(NoCopyAvailable) as refused:
        lend(any_store, a.title_id, CAROL, a)
    assert refused.value.extra["reason"] == "no_copy_available"
    detail = any_store.get_title(a.title_id)
    assert detail.summary.copies_available == 0 and all(c.due_at == DUE for c in detail.copies)


def test_a_released_payment_lends_nothing(any_store: LendingStore) -> None:
    (a,) = copies(any_store)
    payment_id = paid(any_store, a)
    any_store.update_payment(payment_id, PaymentState.CANCELED)
    with pytest.raises(PaymentReleased):
        any_store.lend_copy_of_title(a.title_id, ALICE, payment_id, DUE)
    assert any_store.get_book(a.book_id).status is BookStatus.AVAILABLE


def test_holds_are_refused_for_each_reason_and_queue_in_order(any_store: LendingStore) -> None:
    (a,) = copies(any_store)
    with pytest.raises(HoldRefused) as refused:
        any_store.place_hold(a.title_id, BOB, now=NOW, max_holds=10)
    assert refused.value.extra["reason"] == "copy_available"
    lend(any_store, a.title_id, ALICE, a)
    with pytest.raises(HoldRefused) as refused:
        any_store.place_hold(a.title_id, ALICE, now=NOW, max_holds=10)
    assert refused.value.extra["reason"] == "already_on_loan"
    bob = any_store.place_hold(a.title_id, BOB, now=NOW, max_holds=10)
    carol = any_store.place_hold(a.title_id, CAROL, now=NOW, max_holds=10)
    assert (bob.position, carol.position, bob.status) == (1, 2, HoldStatus.WAITING)
    with pytest.raises(HoldRefused) as refused:
        any_store.place_hold(a.title_id, BOB, now=NOW, max_holds=10)
    assert refused.value.extra["reason"] == "duplicate_hold"
    (other,) = copies(any_store, isbn="9780140449136", title="Crime and Punishment", author="Fyodor Dostoevsky")
    lend(any_store, other.title_id, ALICE, other)
    with pytest.raises(HoldRefused) as refused:
        any_store.place_hold(other.title_id, BOB, now=NOW, max_holds=1)
    assert refused.value.extra["reason"] == "hold_limit"
    assert [h.hold_id for h in any_store.title_holds(a.title_id)] == [bob.hold_id, carol.hold_id]
    assert any_store.get_title(a.title_id).summary.holds_waiting == 2


def test_a_returned_copy_waits_on_the_hold_shelf_for_the_first_in_line_only(any_store: LendingStore) -> None:
    (a,) = copies(any_store)
    lend(any_store, a.title_id, ALICE, a)
    bob = any_store.place_hold(a.title_id, BOB, now=NOW, max_holds=10)
    carol = any_store.place_hold(a.title_id, CAROL, now=NOW, max_holds=10)
    any_store.close_loan(a.book_id, ALICE, now=NOW, pickup_period=PICKUP)

    assert any_store.get_book(a.book_id).status is BookStatus.ON_HOLD_SHELF
    (ready, waiting) = sorted(any_store.title_holds(a.title_id), key=lambda h: h.status.value)
    assert (ready.hold_id, ready.book_id, ready.ready_until) == (bob.hold_id, a.book_id, NOW + PICKUP)
    assert (waiting.hold_id, waiting.position) == (carol.hold_id, 1)
    assert any_store.holder_of(a.book_id).subject == "bob"
    with pytest.raises(HeldForAnother):
        any_store.open_loan(a.book_id, CAROL, paid(any_store, a, CAROL), DUE)
    with pytest.raises(NoCopyAvailable):
        lend(any_store, a.title_id, CAROL, a)
    assert any_store.copy_to_lend(a.title_id, BOB).book_id == a.book_id

    loan = any_store.open_loan(a.book_id, BOB, paid(any_store, a, BOB), DUE)
    assert loan.borrower.subject == "bob"
    assert [h.status for h in any_store.holds_of(BOB)] == [HoldStatus.FULFILLED]


def test_a_copy_picked_up_from_the_hold_shelf_is_lent_under_the_patrons_name(any_store: LendingStore) -> None:
    dora = User("https://issuer.test", "dora", name="Dora Vale", handle="dora")
    (a,) = copies(any_store)
    lend(any_store, a.title_id, ALICE, a)
    any_store.place_hold(a.title_id, dora, now=NOW, max_holds=10)
    any_store.close_loan(a.book_id, ALICE, now=NOW, pickup_period=PICKUP)
    loan = any_store.open_loan(a.book_id, dora, paid(any_store, a, dora), DUE)
    assert (loan.borrower.subject, loan.borrower.name) == ("dora", "Dora Vale")
    assert [held.borrower.name for held in any_store.loans_of(dora)] == ["Dora Vale"]


def test_expiry_passes_the_copy_to_the_next_in_line_then_back_to_the_shelf(any_store: LendingStore) -> None:
    (a,) = copies(any_store)
    lend(any_store, a.title_id, ALICE, a)
    any_store.place_hold(a.title_id, BOB, now=NOW, max_holds=10)
    any_store.place_hold(a.title_id, CAROL, now=NOW, max_holds=10)
    any_store.close_loan(a.book_id, ALICE, now=NOW, pickup_period=PICKUP)

    assert any_store.expire_ready_holds(now=NOW + PICKUP - timedelta(seconds=1), pickup_period=PICKUP) == []
    later = NOW + PICKUP
    (move,) = any_store.expire_ready_holds(now=later, pickup_period=PICKUP)
    assert move.book_id == a.book_id and move.next_hold_id is not None
    assert [h.status for h in any_store.holds_of(BOB)] == [HoldStatus.EXPIRED]
    (carol,) = any_store.holds_of(CAROL)
    assert (carol.status, carol.ready_until, carol.book_id) == (HoldStatus.READY, later + PICKUP, a.book_id)

    (move,) = any_store.expire_ready_holds(now=later + PICKUP, pickup_period=PICKUP)
    assert move.next_hold_id is None
    assert any_store.get_book(a.book_id).status is BookStatus.AVAILABLE


def test_cancelling_a_ready_hold_passes_the_copy_on_at_once(any_store: LendingStore) -> None:
    (a,) = copies(any_store)
    lend(any_store, a.title_id, ALICE, a)
    bob = any_store.place_hold(a.title_id, BOB, now=NOW, max_holds=10)
    any_store.close_loan(a.book_id, ALICE, now=NOW, pickup_period=PICKUP)
    with pytest.raises(HoldNotFound):
        any_store.cancel_hold(bob.hold_id, CAROL, now=NOW, pickup_period=PICKUP)
    any_store.cancel_hold(bob.hold_id, BOB, now=NOW, pickup_period=PICKUP)
    assert [h.status for h in any_store.holds_of(BOB)] == [HoldStatus.CANCELLED]
    assert any_store.get_book(a.book_id).status is BookStatus.AVAILABLE
    any_store.cancel_hold(bob.hold_id, BOB, now=NOW, pickup_period=PICKUP)  # no longer active: left as it is


def test_a_renewal_extends_from_the_later_of_now_and_due_and_is_refused_for_each_reason(any_store: LendingStore) -> None:
    a, b = copies(any_store, 2)
    loan = lend(any_store, a.title_id, ALICE, a)
    book = any_store.get_book(loan.book_id)
    renewed = any_store.renew_loan(loan.loan_id, ALICE, paid(any_store, book, ALICE, PaymentKind.RENEWAL), now=NOW,
                                   loan_period=timedelta(days=21), max_renewals=2)
    assert (renewed.due_at, renewed.renewals) == (DUE + timedelta(days=21), 1)
    late = DUE + timedelta(days=60)  # renewing an overdue loan counts from now
    renewed = any_store.renew_loan(loan.loan_id, ALICE, paid(any_store, book, ALICE, PaymentKind.RENEWAL), now=late,
                                   loan_period=timedelta(days=21), max_renewals=3)
    assert renewed.due_at == late + timedelta(days=21)
    with pytest.raises(RenewalRefused) as refused:
        any_store.check_renewal(loan.loan_id, ALICE, max_renewals=2)
    assert refused.value.extra["reason"] == "renewal_limit"
    with pytest.raises(LoanNotFound):
        any_store.check_renewal(loan.loan_id, BOB, max_renewals=5)

    # a waiting patron blocks the renewal only when no other copy could serve them
    lend(any_store, a.title_id, BOB, a)
    any_store.place_hold(a.title_id, CAROL, now=NOW, max_holds=10)
    with pytest.raises(RenewalRefused) as refused:
        any_store.renew_loan(loan.loan_id, ALICE, paid(any_store, book, ALICE, PaymentKind.RENEWAL), now=NOW,
                             loan_period=timedelta(days=21), max_renewals=5)
    assert refused.value.extra["reason"] == "on_hold"
    (still,) = [x for x in any_store.loans_of(ALICE) if x.loan_id == loan.loan_id]
    assert (still.renewals, still.due_at) == (2, late + timedelta(days=21))  # nothing was written

    any_store.close_loan(loan.book_id, ALICE, now=NOW, pickup_period=PICKUP)
    with pytest.raises(RenewalRefused) as refused:
        any_store.check_renewal(loan.loan_id, ALICE, max_renewals=5)
    assert refused.value.extra["reason"] == "not_on_loan"


def test_search_finds_prefixes_folded_accents_and_isbns_with_facets(any_store: LendingStore) -> None:
    copies(any_store, 2, language="en")
    (crime,) = copies(any_store, isbn="9780140449136", title="Crime and Punishment", author="Fyodor Dostoévsky",
                      language="ru")
    first = lambda q, **kw: [s.title.title for s in any_store.search_titles(TitleQuery(text=q, **kw)).items]  # noqa: E731
    assert first("hobb") == ["The Hobbit"]
    assert first("dostoevsky") == ["Crime and Punishment"]
    assert first("978-0-261-10221-7") == ["The Hobbit"]
    assert first("zzzzzz") == []
    lend(any_store, crime.title_id, ALICE, crime)
    page = any_store.search_titles(TitleQuery())
    assert page.total == 2 and [s.title.title for s in page.items] == ["Crime and Punishment", "The Hobbit"]
    assert (page.facets.available, page.facets.unavailable) == (1, 1)
    assert {f.value: f.count for f in page.facets.language} == {"en": 1, "ru": 1}
    only = any_store.search_titles(TitleQuery(available=True))
    assert [s.title.title for s in only.items] == ["The Hobbit"] and only.items[0].copies_available == 2
    # a facet leaves its own filter out, so the other values stay visible
    assert {f.value for f in only.facets.language} == {"en"} and only.facets.unavailable == 1
    assert any_store.search_titles(TitleQuery(author="fyodor dostoevsky")).total == 1
