"""Paying the balance at its edges, on the fakes: a balance that changes or a payment released between
authorise and credit, the smallest balance, and the librarian's patron search limit. Each kills a
mutant `make mutate` found alive in lending.fees (tests/mutation/)."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from typing import Any

import pytest

from lending import fees
from lending.errors import BalanceChanged, PaymentReleased
from lending.fees_model import ChargeKind
from lending.model import PaymentKind, PaymentState, User
from tests.support.fakes import FakeGateway, FakeStore
from tests.unit.test_circulation import ALICE, LIBBY


class Racing:
    """The fake store, with something done by someone else just before the payment is credited."""

    def __init__(self, store: FakeStore, meanwhile: Callable[[str], None]) -> None:
        self._store, self._meanwhile = store, meanwhile

    def __getattr__(self, name: str) -> Any:
        return getattr(self._store, name)

    def record_fee_payment(self, payment_id: str, patron: User) -> Any:
        self._meanwhile(payment_id)
        return self._store.record_fee_payment(payment_id, patron)


def owing(cents: int) -> tuple[FakeStore, FakeGateway]:
    store = FakeStore()
    store._add(ALICE.issuer, ALICE.subject, ChargeKind.LATE_FEE, cents, "usd")
    return store, FakeGateway()


def fee_payments(store: FakeStore) -> dict[str, PaymentState]:
    return {p.payment_id: p.state for p in store.payments.values() if p.kind is PaymentKind.FEE_PAYMENT}


def test_a_balance_paid_meanwhile_by_another_payment_releases_this_ones_card_hold() -> None:
    store, gateway = owing(75)
    other: list[str] = []

    def another_payment(_: str) -> None:
        other.append(fees.pay_balance(store, gateway, ALICE, "pm_card_visa", currency="usd").payment.payment_id)

    with pytest.raises(BalanceChanged):
        fees.pay_balance(Racing(store, another_payment), gateway, ALICE, "pm_card_visa", currency="usd")  # type: ignore[arg-type]
    states = fee_payments(store)
    assert states.pop(other[0]) is PaymentState.CAPTURED
    assert list(states.values()) == [PaymentState.CANCELED]  # ours: released, not left authorised
    assert sorted(i["status"] for i in gateway.intents.values()) == ["canceled", "succeeded"]
    assert store.account(ALICE, "usd").balance_cents == 0


def test_a_payment_released_before_it_is_credited_is_not_credited_and_its_hold_is_released() -> None:
    store, gateway = owing(75)

    def released_by_reconcile(payment_id: str) -> None:
        store.update_payment(payment_id, PaymentState.CANCELED)

    with pytest.raises(PaymentReleased):
        fees.pay_balance(Racing(store, released_by_reconcile), gateway, ALICE, "pm_card_visa", currency="usd")  # type: ignore[arg-type]
    assert [i["status"] for i in gateway.intents.values()] == ["canceled"]
    assert store.account(ALICE, "usd").balance_cents == 75


def test_the_smallest_balance_is_paid_and_the_result_is_frozen() -> None:
    store, gateway = owing(1)
    paid = fees.pay_balance(store, gateway, ALICE, "pm_card_visa", currency="usd")
    assert (paid.payment.amount_cents, paid.payment.state) == (1, PaymentState.CAPTURED)
    with pytest.raises(dataclasses.FrozenInstanceError):
        paid.charge = paid.charge  # type: ignore[misc]


def test_a_late_fee_capped_at_one_cent_is_one_cent() -> None:
    from tests.unit.test_fees import DAILY, DAY, DUE

    assert fees.late_fee(DUE, DUE + 10 * DAY, DAILY, 1) == 1


def test_the_librarians_patron_search_gives_fifty_at_most_by_default() -> None:
    store = FakeStore()
    for n in range(60):
        store.remember_patron(User("https://issuer.test", f"patron-{n:02d}", name=f"Patron {n:02d}"))
    assert len(fees.find_patrons(store, LIBBY, None)) == 50
    assert len(fees.find_patrons(store, LIBBY, None, limit=60)) == 60
