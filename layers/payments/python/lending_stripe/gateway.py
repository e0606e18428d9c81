"""PaymentIntents with manual capture: create (unconfirmed), confirm, capture, cancel, refund."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any, TypeVar

import stripe

from lending.correlation import time_left
from lending.errors import InvalidRequest, PaymentDeclined, PaymentProcessorUnavailable, ProcessorRefused
from lending.model import Authorization

T = TypeVar("T")
MIN_CALL_SECONDS = 0.2  # less than this left in the request's budget: do not start a processor call


class PaymentMethodInvalid(InvalidRequest):
    """The payment method id does not name a usable payment method."""


@contextmanager
def _translated(action: str) -> Iterator[None]:
    try:
        yield
    except stripe.CardError as exc:
        reason = exc.user_message or (exc.error.message if exc.error else None) or "The card was declined."
        code = (exc.error.decline_code or exc.error.code) if exc.error else None
        raise PaymentDeclined(reason, decline_code=code or "card_declined") from None
    except (stripe.APIConnectionError, stripe.RateLimitError, stripe.AuthenticationError,
            stripe.PermissionError) as exc:
        raise PaymentProcessorUnavailable(f"The payment processor could not {action}; nothing was charged.") from exc
    except stripe.InvalidRequestError as exc:
        if exc.http_status == 404 and exc.error and exc.error.param == "payment_method":
            raise PaymentMethodInvalid("The payment method is not recognised.", field="payment_method") from None
        if exc.http_status and exc.http_status >= 500:
            raise PaymentProcessorUnavailable(f"The payment processor could not {action}.") from exc
        if exc.http_status == 404 and "payment_method" in str(exc.user_message or exc).lower():
            raise PaymentMethodInvalid("The payment method is not recognised.", field="payment_method") from None
        raise ProcessorRefused(f"The payment processor refused to {action}.") from exc
    except stripe.StripeError as exc:
        # APIError and anything else with a 5xx: the processor failed, not the caller.
        if exc.http_status is None or exc.http_status >= 500:
            raise PaymentProcessorUnavailable(f"The payment processor could not {action}.") from exc
        raise ProcessorRefused(f"The payment processor refused to {action}.") from exc


def _authorization(intent: Any) -> Authorization:
    charge = getattr(intent, "latest_charge", None)
    refunded = bool(getattr(charge, "refunded", False)) if charge is not None and not isinstance(charge, str) else False
    raw_metadata = getattr(intent, "metadata", None)
    metadata: dict[str, str] = {}
    if raw_metadata is not None:
        metadata = raw_metadata.to_dict() if hasattr(raw_metadata, "to_dict") else dict(raw_metadata)
    return Authorization(intent.id, intent.status, int(intent.amount), refunded, metadata)


class StripeGateway:
    """PaymentGateway on Stripe (or a Stripe-compatible server via `api_base`)."""

    def __init__(self, api_key: str, *, api_base: str | None = None, timeout_seconds: float = 10.0,
                 max_retries: int = 2) -> None:
        base = {"api": api_base.rstrip("/")} if api_base else None
        self._client = stripe.StripeClient(
            api_key, base_addresses=base,  # type: ignore[arg-type]
            http_client=stripe.RequestsClient(timeout=(min(3.0, timeout_seconds), timeout_seconds)),
            max_network_retries=max_retries,
        )
        self._intents = self._client.v1.payment_intents
        self._timeout, self._max_retries = timeout_seconds, max_retries

    def _options(self, idempotency_key: str, action: str) -> dict[str, Any]:
        """The call's options: its idempotency key, and only as many retries as the request's budget has time for."""
        left = time_left(self._timeout * (self._max_retries + 1))
        if left < MIN_CALL_SECONDS:
            raise PaymentProcessorUnavailable(f"No time was left in this request to {action}; nothing more was done.")
        return {"idempotency_key": idempotency_key,
                "max_network_retries": max(0, min(self._max_retries, int(left // self._timeout) - 1))}

    def create_authorization(self, *, amount_cents: int, currency: str, payment_method: str,
                             idempotency_key: str, metadata: dict[str, str]) -> str:
        try:
            with _translated("create the payment"):
                intent = self._intents.create(
                    params={"amount": amount_cents, "currency": currency, "payment_method": payment_method,
                            "capture_method": "manual", "confirm": False, "metadata": metadata},
                    options=self._options(idempotency_key, "create the payment"),  # type: ignore[arg-type]
                )
        except ProcessorRefused as refused:
            # The payment method is the only part of this call the caller chose: a refusal
            # that names no other parameter is about it (e.g. an unknown or malformed src_ id).
            cause = refused.__cause__
            if isinstance(cause, stripe.InvalidRequestError) and \
                    (cause.error is None or cause.error.param in (None, "payment_method")):
                raise PaymentMethodInvalid("The payment method is not recognised.", field="payment_method") from None
            raise
        return str(intent.id)

    def confirm_authorization(self, intent_id: str, idempotency_key: str) -> Authorization:
        with _translated("authorise the card"):
            intent = self._intents.confirm(intent_id, options=self._options(idempotency_key, "authorise the card"))  # type: ignore[arg-type]
        if intent.status != "requires_capture":
            # e.g. requires_action (3-D Secure): this API takes no customer-present step.
            self._call("release the card", lambda: self._intents.cancel(intent_id))
            raise PaymentDeclined("The card needs an authentication step this service cannot perform.",
                                  decline_code=intent.status)
        return _authorization(intent)

    def capture(self, intent_id: str, idempotency_key: str) -> Authorization:
        try:
            with _translated("capture the payment"):
                return _authorization(self._intents.capture(
                    intent_id, options=self._options(idempotency_key, "capture the payment")))  # type: ignore[arg-type]
        except ProcessorRefused:
            # Already captured (by a concurrent settler): that is the state we wanted.
            current = self.retrieve(intent_id)
            if current.status == "succeeded":
                return current
            raise

    def cancel(self, intent_id: str, idempotency_key: str) -> Authorization:
        try:
            with _translated("release the card"):
                return _authorization(self._intents.cancel(
                    intent_id, options=self._options(idempotency_key, "release the card")))  # type: ignore[arg-type]
        except ProcessorRefused:
            current = self.retrieve(intent_id)
            if current.status == "canceled":
                return current
            raise

    def refund(self, intent_id: str, idempotency_key: str) -> Authorization:
        with _translated("refund the payment"):
            self._client.v1.refunds.create(params={"payment_intent": intent_id},
                                           options={"idempotency_key": idempotency_key})
        return self.retrieve(intent_id)

    def retrieve(self, intent_id: str) -> Authorization:
        with _translated("look up the payment"):
            intent = self._intents.retrieve(intent_id, params={"expand": ["latest_charge"]})
        return _authorization(intent)

    def _call(self, action: str, fn: Callable[[], T]) -> T | None:
        try:
            with _translated(action):
                return fn()
        except Exception:  # noqa: BLE001 - best effort; reconcile settles what this leaves
            return None
