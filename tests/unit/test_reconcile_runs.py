"""lending.reconcile's run on the fakes: what it lists, what it counts, how one payment's failure
leaves the others alone and backs off, and the webhook's settle_one. One branch of the settling at
a time: tests/unit/test_reconcile_branches.py."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta

import pytest

from lending import reconcile
from lending.errors import DatabaseUnavailable, PaymentProcessorUnavailable, ProcessorRefused, RequestInProgress
from lending.model import PaymentState
from tests.support.fakes import FakeStore
from tests.support.ledger import Ledger


@pytest.fixture
def ledger() -> Ledger:
    return Ledger()


def not_before(ledger: Ledger, payment_id: str) -> float:
    """Seconds from now until the deferred payment is offered again."""
    return (ledger.store.deferred[payment_id][1] - datetime.now(UTC)).total_seconds()


def test_an_empty_run_reports_nothing(ledger: Ledger) -> None:
    report = ledger.run()
    assert (report.examined, report.actions, report.errors, report.failed) == (0, {}, 0, 0)


def test_each_action_is_counted_once_per_payment(ledger: Ledger) -> None:
    ledger.payment(PaymentState.AUTHORIZED)
    ledger.payment(PaymentState.AUTHORIZED)
    ledger.payment(PaymentState.PENDING, intent=None)
    report = ledger.run()
    assert (report.examined, report.actions) == (3, {"released": 2, "abandoned": 1})


@pytest.mark.parametrize(("age", "listed"), [(59.5, False), (60.5, True)])
def test_by_default_a_payment_is_left_a_minute_to_its_request(ledger: Ledger, age: float, listed: bool) -> None:
    p = ledger.payment(PaymentState.AUTHORIZED)
    ledger.store.updated[p.payment_id] = datetime.now(UTC) - timedelta(seconds=age)
    report = reconcile.reconcile(ledger.store, ledger.gateway)
    assert report.examined == int(listed)
    assert ledger.now(p).state is (PaymentState.CANCELED if listed else PaymentState.AUTHORIZED)


def test_a_payment_another_settler_holds_is_skipped(ledger: Ledger) -> None:
    p = ledger.payment(PaymentState.AUTHORIZED)
    ledger.store.locked.add(p.payment_id)
    report = ledger.run()
    assert (report.examined, report.actions, report.failed) == (0, {}, 0) and ledger.gateway.calls == []
    assert ledger.now(p).state is PaymentState.AUTHORIZED


def test_an_unreachable_processor_is_an_error_and_the_next_payment_is_still_settled(ledger: Ledger) -> None:
    first, second = ledger.payment(PaymentState.AUTHORIZED), ledger.payment(PaymentState.AUTHORIZED)
    ledger.gateway.fail["retrieve", first.intent_id or ""] = PaymentProcessorUnavailable("down")
    report = ledger.run()
    assert (report.errors, report.failed, report.actions) == (1, 0, {"released": 1})
    assert ledger.now(first).state is PaymentState.AUTHORIZED and ledger.now(second).state is PaymentState.CANCELED
    assert ledger.store.deferred == {}  # not the payment's fault: tried again next run
    del ledger.gateway.fail["retrieve", first.intent_id or ""]
    assert ledger.run().actions == {"released": 1}


def test_a_refused_payment_is_failed_and_backed_off_and_the_next_is_still_settled(ledger: Ledger) -> None:
    first, second = ledger.payment(PaymentState.AUTHORIZED), ledger.payment(PaymentState.AUTHORIZED)
    ledger.gateway.fail["retrieve", first.intent_id or ""] = ProcessorRefused("no such intent")
    report = ledger.run()
    assert (report.failed, report.errors, report.actions) == (1, 0, {"released": 1})
    assert ledger.now(second).state is PaymentState.CANCELED
    assert ledger.store.deferred[first.payment_id][0] == 1 and 299 < not_before(ledger, first.payment_id) <= 300
    assert ledger.run().examined == 0  # not offered again before the backoff


def test_the_backoff_doubles_with_each_failed_attempt(ledger: Ledger) -> None:
    p = ledger.payment(PaymentState.AUTHORIZED)
    ledger.gateway.fail["retrieve", p.intent_id or ""] = ProcessorRefused("no such intent")
    ledger.run()
    ledger.store.deferred[p.payment_id] = (1, datetime.now(UTC))  # the backoff has passed
    assert ledger.run().failed == 1
    assert ledger.store.deferred[p.payment_id][0] == 2 and 599 < not_before(ledger, p.payment_id) <= 600


def test_the_backoff_stops_growing_at_six_hours(ledger: Ledger) -> None:
    p = ledger.payment(PaymentState.AUTHORIZED)
    ledger.gateway.fail["retrieve", p.intent_id or ""] = ProcessorRefused("no such intent")
    ledger.store.deferred[p.payment_id] = (9, datetime.now(UTC))  # 300 s * 2**9 is well past the cap
    assert ledger.run().failed == 1
    assert ledger.store.deferred[p.payment_id][0] == 10 and 6 * 3600 - 1 < not_before(ledger, p.payment_id) <= 6 * 3600


def test_the_backoff_takes_the_delays_it_is_given(ledger: Ledger) -> None:
    p = ledger.payment(PaymentState.AUTHORIZED)
    ledger.gateway.fail["retrieve", p.intent_id or ""] = ProcessorRefused("no such intent")
    ledger.run(first_retry_seconds=10.0, max_retry_seconds=15.0)
    assert 9 < not_before(ledger, p.payment_id) <= 10
    ledger.store.deferred[p.payment_id] = (1, datetime.now(UTC))
    ledger.run(first_retry_seconds=10.0, max_retry_seconds=15.0)
    assert 14 < not_before(ledger, p.payment_id) <= 15


def test_a_release_the_processor_did_not_take_stays_unsent_for_the_next_run(ledger: Ledger) -> None:
    p = ledger.payment(PaymentState.AUTHORIZED)
    ledger.gateway.fail["cancel", p.intent_id or ""] = PaymentProcessorUnavailable("down")
    assert ledger.run().errors == 1
    assert (ledger.now(p).state, ledger.now(p).processor_synced) == (PaymentState.CANCELED, False)
    assert ledger.intent(p)["status"] == "requires_capture"
    del ledger.gateway.fail["cancel", p.intent_id or ""]
    assert ledger.run().actions == {"released": 1} and ledger.intent(p)["status"] == "canceled"
    assert ledger.now(p).processor_synced


def test_a_refund_the_processor_did_not_take_stays_unsent_for_the_next_run(ledger: Ledger) -> None:
    p = ledger.payment(PaymentState.CAPTURED, intent="succeeded")
    ledger.gateway.fail["refund", p.intent_id or ""] = PaymentProcessorUnavailable("down")
    assert ledger.run().errors == 1
    assert (ledger.now(p).state, ledger.now(p).processor_synced) == (PaymentState.REFUNDED, False)
    del ledger.gateway.fail["refund", p.intent_id or ""]
    assert ledger.run().actions == {"refunded": 1} and ledger.intent(p)["refunded"] and ledger.now(p).processor_synced


class DatabaseGone(FakeStore):
    @contextmanager
    def settling(self, payment_id: str, *, only_unsettled: bool = True) -> Iterator[None]:
        raise DatabaseUnavailable("the database is unreachable")
        yield None


def test_a_lost_database_stops_the_run_instead_of_failing_each_payment() -> None:
    ledger = Ledger()
    ledger.store = DatabaseGone()
    p = ledger.payment(PaymentState.AUTHORIZED)
    with pytest.raises(DatabaseUnavailable):
        ledger.run()
    assert ledger.store.deferred == {} and ledger.now(p).state is PaymentState.AUTHORIZED


def test_the_webhook_settles_a_payment_and_sees_its_event_once(ledger: Ledger) -> None:
    p = ledger.payment(PaymentState.AUTHORIZED)
    assert ledger.settle_one(p, event_id="evt_1") == "released" and "evt_1" in ledger.store.events
    assert ledger.now(p).state is PaymentState.CANCELED
    again = ledger.payment(PaymentState.AUTHORIZED)
    assert ledger.settle_one(again, event_id="evt_1") == "duplicate" and ledger.gateway.calls == []
    assert ledger.now(again).state is PaymentState.AUTHORIZED


def test_the_webhook_settles_without_an_event_id(ledger: Ledger) -> None:
    p = ledger.payment(PaymentState.AUTHORIZED)
    assert ledger.settle_one(p) == "released" and ledger.store.events == {}


def test_the_webhook_is_told_to_retry_while_another_settler_holds_the_payment(ledger: Ledger) -> None:
    p = ledger.payment(PaymentState.AUTHORIZED)
    ledger.store.locked.add(p.payment_id)
    with pytest.raises(RequestInProgress):
        ledger.settle_one(p, event_id="evt_1")
    assert ledger.now(p).state is PaymentState.AUTHORIZED and ledger.store.events == {}
