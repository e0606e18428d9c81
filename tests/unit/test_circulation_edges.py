"""Circulation's use cases (lending.circulation) at the edges the handlers' tests do not reach: a
renewal refused between the check and the charge, a ready copy passed on to the next in line, the
default pickup period. Killers of surviving mutants (tests/mutation/)."""

from __future__ import annotations

import dataclasses
from datetime import UTC, datetime, timedelta

import pytest

from lending import circulation, services
from lending.circulation_model import ShelfMove
from lending.errors import LendingError, LoanNotFound, RenewalRefused
from lending.model import NewBook, PaymentKind, PaymentState, User
from tests.support.clock import MovedClock
from tests.support.fakes import FakeGateway, FakeStore

ALICE, BOB, CAROL = (User("https://issuer.test", n) for n in ("alice", "bob", "carol"))
NOW = datetime(2026, 3, 1, 12, tzinfo=UTC)
PERIOD = timedelta(days=21)


class RefusedMeanwhile(FakeStore):
    """The renewal's own transaction refuses (a hold placed, or the loan returned, since the check)."""

    def __init__(self, refusal: LendingError) -> None:
        super().__init__()
        self.refusal = refusal

    def renew_loan(self, loan_id, patron, payment_id, **kw):  # type: ignore[no-untyped-def]
        raise self.refusal


@pytest.mark.parametrize("refusal", [RenewalRefused("A patron is waiting.", reason="on_hold"),
                                     LoanNotFound("You have no loan with this id.")])
def test_a_renewal_refused_after_the_charge_was_authorised_releases_it(refusal: LendingError) -> None:
    store, gateway, clock = RefusedMeanwhile(refusal), FakeGateway(), MovedClock(NOW)
    book = store.add_book(NewBook("9780261102217", "The Hobbit", "J. R. R. Tolkien", 1500, 200, "usd"))
    loan = services.borrow_book(store, gateway, ALICE, book.book_id, "pm_card_visa", now=NOW, loan_period=PERIOD).loan
    with pytest.raises(type(refusal)):
        circulation.renew_loan(store, gateway, ALICE, loan.loan_id, "pm_card_visa", clock=clock, loan_period=PERIOD,
                               max_renewals=2)
    (renewal,) = [p for p in store.payments.values() if p.kind is PaymentKind.RENEWAL]
    assert renewal.state is PaymentState.CANCELED and gateway.intents[renewal.intent_id]["status"] == "canceled"
    assert store.loans[loan.loan_id].due_at == NOW + PERIOD


def shelved_for_bob_then_carol(store: FakeStore, gateway: FakeGateway, clock: MovedClock) -> str:
    book = store.add_book(NewBook("9780261102217", "The Hobbit", "J. R. R. Tolkien", 1500, 200, "usd"))
    services.borrow_book(store, gateway, ALICE, book.book_id, "pm_card_visa", now=NOW, loan_period=PERIOD)
    for patron in (BOB, CAROL):
        circulation.place_hold(store, patron, book.title_id, clock=clock, max_holds=5)
    services.return_book(store, ALICE, book.book_id, now=NOW, pickup_period=timedelta(days=3))
    return book.book_id


def test_an_expired_ready_hold_passes_the_copy_to_the_next_in_line_and_the_report_counts_it() -> None:
    store, gateway, clock = FakeStore(), FakeGateway(), MovedClock(NOW)
    book_id = shelved_for_bob_then_carol(store, gateway, clock)
    clock.advance(timedelta(days=3))
    report = circulation.expire_ready_holds(store, clock)  # the default pickup period: 7 days
    assert report == circulation.ExpiryReport(expired=1, passed_on=1, back_on_shelf=0)
    (ready,) = store.holds_of(CAROL)
    assert ready.book_id == book_id and ready.ready_until == clock.now() + timedelta(days=7)
    with pytest.raises(dataclasses.FrozenInstanceError):
        report.expired = 0  # type: ignore[misc]


def test_the_report_counts_copies_passed_on_and_back_on_the_shelf_apart() -> None:
    moves = [ShelfMove("h1", "b1", "h2"), ShelfMove("h3", "b2", None), ShelfMove("h4", "b3", "h5"),
             ShelfMove("h6", "b4", None), ShelfMove("h7", "b5", None)]
    assert circulation.ExpiryReport.of(moves) == circulation.ExpiryReport(expired=5, passed_on=2, back_on_shelf=3)
    assert circulation.ExpiryReport.of([]) == circulation.ExpiryReport(0, 0, 0)


def test_a_renewal_cannot_be_changed_afterwards() -> None:
    store, gateway, clock = FakeStore(), FakeGateway(), MovedClock(NOW)
    book = store.add_book(NewBook("9780261102217", "The Hobbit", "J. R. R. Tolkien", 1500, 200, "usd"))
    loan = services.borrow_book(store, gateway, ALICE, book.book_id, "pm_card_visa", now=NOW, loan_period=PERIOD).loan
    renewed = circulation.renew_loan(store, gateway, ALICE, loan.loan_id, "pm_card_visa", clock=clock,
                                     loan_period=PERIOD, max_renewals=2)
    assert renewed.loan.due_at == NOW + 2 * PERIOD and renewed.payment.state is PaymentState.CAPTURED
    with pytest.raises(dataclasses.FrozenInstanceError):
        renewed.loan = loan  # type: ignore[misc]
