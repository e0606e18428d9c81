"""What a hold shows (patron, title, place, dates) and that an ended hold stays as it ended,
run against PostgreSQL and against the in-memory fake."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta

import pytest

from lending.circulation_model import Hold, HoldStatus
from lending.model import User
from lending.ports import LendingStore
from tests.contract.test_circulation_contract import ALICE, NOW, PICKUP, copies, lend, paid
from tests.support.fakes import FakeStore

BOB = User("https://issuer.test", "bob", name="Bob Baggins")
CAROL = User("https://issuer.test", "carol", handle="carol_c")


@pytest.fixture(params=["postgres", "fake"])
def any_store(request: pytest.FixtureRequest) -> Iterator[LendingStore]:
    yield request.getfixturevalue("store") if request.param == "postgres" else FakeStore()


def shown(h: Hold) -> tuple[object, ...]:
    return (h.hold_id, h.title_id, h.patron.issuer, h.patron.subject, h.patron.name, h.status, h.placed_at, h.position,
            h.book_id, h.ready_until, h.title)


def test_a_hold_shows_its_patron_title_place_and_dates(any_store: LendingStore) -> None:
    (a,) = copies(any_store)
    lend(any_store, a.title_id, ALICE, a)
    bob = any_store.place_hold(a.title_id, BOB, now=NOW, max_holds=10)
    carol = any_store.place_hold(a.title_id, CAROL, now=NOW + timedelta(minutes=1), max_holds=10)
    title = a.title_id
    assert shown(bob) == (bob.hold_id, title, BOB.issuer, "bob", "Bob Baggins", HoldStatus.WAITING, NOW, 1, None, None,
                          "The Hobbit")
    assert shown(carol) == (carol.hold_id, title, CAROL.issuer, "carol", "carol_c", HoldStatus.WAITING,
                            NOW + timedelta(minutes=1), 2, None, None, "The Hobbit")
    assert [shown(h) for h in any_store.title_holds(title)] == [shown(bob), shown(carol)]
    assert [shown(h) for h in any_store.holds_of(CAROL)] == [shown(carol)]

    any_store.close_loan(a.book_id, ALICE, now=NOW)  # the pickup period is a week unless said otherwise
    (ready,) = any_store.holds_of(BOB)
    assert shown(ready) == (bob.hold_id, title, BOB.issuer, "bob", "Bob Baggins", HoldStatus.READY, NOW, None,
                            a.book_id, NOW + PICKUP, "The Hobbit")
    assert [h.position for h in any_store.holds_of(CAROL)] == [1]
    holder = any_store.holder_of(a.book_id)
    assert holder is not None and (holder.issuer, holder.subject, holder.name) == (BOB.issuer, "bob", "Bob Baggins")


def test_an_ended_hold_stays_as_it_ended_when_cancelled(any_store: LendingStore) -> None:
    (a,) = copies(any_store)
    lend(any_store, a.title_id, ALICE, a)
    bob = any_store.place_hold(a.title_id, BOB, now=NOW, max_holds=10)
    carol = any_store.place_hold(a.title_id, CAROL, now=NOW, max_holds=10)
    any_store.close_loan(a.book_id, ALICE, now=NOW, pickup_period=PICKUP)
    (move,) = any_store.expire_ready_holds(now=NOW + PICKUP, pickup_period=PICKUP)  # bob's turn passes to carol
    assert (move.hold_id, move.book_id, move.next_hold_id) == (bob.hold_id, a.book_id, carol.hold_id)
    any_store.cancel_hold(bob.hold_id, BOB, now=NOW + PICKUP, pickup_period=PICKUP)
    assert [h.status for h in any_store.holds_of(BOB)] == [HoldStatus.EXPIRED]

    any_store.open_loan(a.book_id, CAROL, paid(any_store, a, CAROL), NOW + timedelta(days=30))
    any_store.cancel_hold(carol.hold_id, CAROL, now=NOW + PICKUP, pickup_period=PICKUP)
    assert [h.status for h in any_store.holds_of(CAROL)] == [HoldStatus.FULFILLED]
