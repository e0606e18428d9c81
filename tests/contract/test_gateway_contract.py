"""The PaymentGateway contract, run against localstripe (official stripe library) and the fake."""

from __future__ import annotations

import uuid

import pytest

from lending.errors import PaymentDeclined, ProcessorRefused
from lending.ports import PaymentGateway
from lending_stripe import StripeGateway
from tests.support.fakes import FakeGateway


@pytest.fixture(params=["stripe", "fake"])
def gateway(request: pytest.FixtureRequest) -> PaymentGateway:
    if request.param == "stripe":
        return StripeGateway("sk_test_suite", api_base=request.getfixturevalue("stripe_url"), timeout_seconds=5)
    return FakeGateway()


def key() -> str:
    return uuid.uuid4().hex


def intent(gateway: PaymentGateway, payment_method: str = "pm_card_visa") -> str:
    return gateway.create_authorization(amount_cents=250, currency="usd", payment_method=payment_method,
                                        idempotency_key=key(), metadata={"book_id": "b1"})


def test_an_unconfirmed_intent_holds_nothing(gateway: PaymentGateway) -> None:
    created = gateway.retrieve(intent(gateway))
    assert created.status == "requires_confirmation" and created.amount_cents == 250
    assert created.metadata == {"book_id": "b1"}


def test_authorise_then_capture(gateway: PaymentGateway) -> None:
    intent_id = intent(gateway)
    assert gateway.confirm_authorization(intent_id, key()).status == "requires_capture"
    assert gateway.capture(intent_id, key()).status == "succeeded"
    assert gateway.retrieve(intent_id).status == "succeeded"


def test_capturing_twice_is_harmless(gateway: PaymentGateway) -> None:
    intent_id = intent(gateway)
    gateway.confirm_authorization(intent_id, key())
    gateway.capture(intent_id, key())
    assert gateway.capture(intent_id, key()).status == "succeeded"


def test_authorise_then_release(gateway: PaymentGateway) -> None:
    intent_id = intent(gateway)
    gateway.confirm_authorization(intent_id, key())
    assert gateway.cancel(intent_id, key()).status == "canceled"
    assert gateway.cancel(intent_id, key()).status == "canceled"


def test_a_declined_card(gateway: PaymentGateway) -> None:
    intent_id = intent(gateway, "pm_card_chargeCustomerFail")
    with pytest.raises(PaymentDeclined) as declined:
        gateway.confirm_authorization(intent_id, key())
    assert declined.value.detail
    assert gateway.retrieve(intent_id).status != "requires_capture"


def test_refund_after_capture(gateway: PaymentGateway) -> None:
    intent_id = intent(gateway)
    gateway.confirm_authorization(intent_id, key())
    gateway.capture(intent_id, key())
    assert gateway.refund(intent_id, key()).refunded


def test_a_captured_payment_cannot_be_cancelled(gateway: PaymentGateway) -> None:
    intent_id = intent(gateway)
    gateway.confirm_authorization(intent_id, key())
    gateway.capture(intent_id, key())
    with pytest.raises(ProcessorRefused):
        gateway.cancel(intent_id, key())
