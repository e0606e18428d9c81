"""PaymentIntents with manual capture: create (unconfirmed), confirm, capture, cancel, refund.

The official `stripe` library builds every request (auth, API version, idempotency key, retries with
backoff, error objects), but its default transport (`requests`) and its typed objects cost more CPU
than the rest of a borrow together (docs/benchmarks.md). So the transport is libcurl, a kept-alive
handle per thread (`lending_stripe.transport`, the library's `HTTPClient` extension point), and a
response is read with `raw_request`: parsed once, and only the fields an `Authorization` holds are read.

Parsed once, and small: the library parses every answer into nested `OrderedDict`s, ~20 us for
localstripe's 2.3 KB confirm answer (Stripe's own are larger). So the transport hands it, of a 2xx
answer, only the fields we read (`_WhatWeRead`, decoded by msgspec, which skips the rest unparsed,
and encoded again: ~2 us), and the library parses those (~5 us); a refund's answer, of which nothing
is read, is cut the same way. The library's `StripeResponse.body`, and its debug log of the body, are that
cut-down JSON. An error answer reaches the library as it was sent, so its error objects and our
translation of them (`_translated`) are what they would be without the cut.

Every call's socket timeout is the configured one or what is left of the request's budget
(`lending.correlation.time_left`), whichever is less: a processor that stops answering cannot hold a
request past its budget, whichever call it hangs on.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from typing import Any, TypeVar
from urllib.parse import quote

import msgspec
import stripe
import stripe._api_requestor as _stripe_requestor
import stripe._util as _stripe_util

from lending.correlation import time_left
from lending.errors import InvalidRequest, PaymentDeclined, PaymentProcessorUnavailable, ProcessorRefused
from lending.model import Authorization
from lending_stripe.transport import CurlHttpClient

T = TypeVar("T")


def _only_if_emitted(log: Callable[..., None], level: int) -> Callable[..., None]:
    """The library formats every log call's text (request and response bodies included) before its
    logger decides to drop it: format only what its logger, or STRIPE_LOG, would emit."""
    def guarded(message: str, **params: Any) -> None:
        if _stripe_util.logger.isEnabledFor(level) or _stripe_util._console_log_level() is not None:  # type: ignore[no-untyped-call]
            log(message, **params)
    return guarded


_log_info, _log_debug = _only_if_emitted(_stripe_util.log_info, logging.INFO), \
    _only_if_emitted(_stripe_util.log_debug, logging.DEBUG)
for _module in (_stripe_util, _stripe_requestor):
    _module.log_info, _module.log_debug = _log_info, _log_debug  # type: ignore[attr-defined]
# Per-call platform probes and a telemetry header carrying the previous call's timing: not needed.
stripe.enable_telemetry = False


def _ai_agent_read_once(detect: Callable[[Mapping[str, str]], str]) -> Callable[[Mapping[str, str]], str]:
    """Every request's headers name the AI coding agent the process runs under, if any, found by
    looking up a dozen variables in os.environ (each miss a KeyError raised and caught): ~100k
    instructions a call (callgrind). The environment is read once, at start-up, as our settings are;
    any other mapping the library passes is looked at as it would be. A private name: the library's
    use of it is checked (tests/integration/test_stripe_patches.py)."""
    at_start_up = detect(os.environ)
    return lambda environ: at_start_up if environ is os.environ else detect(environ)


_ai_agent = _ai_agent_read_once(_stripe_requestor._APIRequestor._detect_ai_agent)
_stripe_requestor._APIRequestor._detect_ai_agent = staticmethod(_ai_agent)  # type: ignore[method-assign,assignment]
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


class _Charge(msgspec.Struct):
    refunded: Any = msgspec.UNSET


class _WhatWeRead(msgspec.Struct):
    """The fields of a PaymentIntent `_authorization` and `create_authorization` read; an absent one stays absent."""
    id: Any = msgspec.UNSET
    status: Any = msgspec.UNSET
    amount: Any = msgspec.UNSET
    metadata: Any = msgspec.UNSET
    latest_charge: _Charge | str | None | msgspec.UnsetType = msgspec.UNSET


_read_fields, _write_fields = msgspec.json.Decoder(_WhatWeRead).decode, msgspec.json.Encoder().encode


def _only_what_we_read(body: bytes) -> bytes:
    """A 2xx body cut to `_WhatWeRead`, for the library to parse: anything else is skipped, not parsed.
    A body that is not such JSON goes as it came, so the library answers it as it would have."""
    try:
        return _write_fields(_read_fields(body))
    except msgspec.DecodeError:
        return body


def _authorization(intent: Mapping[str, Any]) -> Authorization:
    """The fields we read from a PaymentIntent's JSON (nothing else is converted)."""
    charge = intent.get("latest_charge")
    refunded = bool(charge.get("refunded", False)) if isinstance(charge, Mapping) else False
    metadata = intent.get("metadata") or {}
    return Authorization(str(intent["id"]), str(intent["status"]), int(intent["amount"]), refunded,
                         {str(k): str(v) for k, v in metadata.items()})


def _intent_path(intent_id: str, action: str = "") -> str:
    return f"/v1/payment_intents/{quote(intent_id, safe='')}" + (f"/{action}" if action else "")


class StripeGateway:
    """PaymentGateway on Stripe (or a Stripe-compatible server via `api_base`)."""

    def __init__(self, api_key: str, *, api_base: str | None = None, timeout_seconds: float = 10.0,
                 max_retries: int = 2) -> None:
        base = {"api": api_base.rstrip("/")} if api_base else None
        self._client = stripe.StripeClient(
            api_key, base_addresses=base,  # type: ignore[arg-type]
            http_client=CurlHttpClient(timeout_seconds=timeout_seconds, connect_seconds=min(3.0, timeout_seconds),
                                       success_body=_only_what_we_read),
            max_network_retries=max_retries,
        )
        self._timeout, self._max_retries = timeout_seconds, max_retries

    def _post(self, path: str, options: dict[str, Any], **params: Any) -> dict[str, Any]:
        response = self._client.raw_request("post", path, **params, **options)
        data: dict[str, Any] = response.data
        return data

    def _get(self, path: str, **params: Any) -> dict[str, Any]:
        data: dict[str, Any] = self._client.raw_request("get", path, **params).data
        return data

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
                intent = self._post("/v1/payment_intents", self._options(idempotency_key, "create the payment"),
                                    amount=amount_cents, currency=currency, payment_method=payment_method,
                                    capture_method="manual", confirm=False, metadata=metadata)
        except ProcessorRefused as refused:
            # The payment method is the only part of this call the caller chose: a refusal
            # that names no other parameter is about it (e.g. an unknown or malformed src_ id).
            cause = refused.__cause__
            if isinstance(cause, stripe.InvalidRequestError) and \
                    (cause.error is None or cause.error.param in (None, "payment_method")):
                raise PaymentMethodInvalid("The payment method is not recognised.", field="payment_method") from None
            raise
        return str(intent["id"])

    def confirm_authorization(self, intent_id: str, idempotency_key: str) -> Authorization:
        with _translated("authorise the card"):
            intent = self._post(_intent_path(intent_id, "confirm"),
                                self._options(idempotency_key, "authorise the card"))
        if intent["status"] != "requires_capture":
            # e.g. requires_action (3-D Secure): this API takes no customer-present step.
            self._call("release the card", lambda: self._post(_intent_path(intent_id, "cancel"), {}))
            raise PaymentDeclined("The card needs an authentication step this service cannot perform.",
                                  decline_code=str(intent["status"]))
        return _authorization(intent)

    def capture(self, intent_id: str, idempotency_key: str) -> Authorization:
        try:
            with _translated("capture the payment"):
                return _authorization(self._post(_intent_path(intent_id, "capture"),
                                                 self._options(idempotency_key, "capture the payment")))
        except ProcessorRefused:
            # Already captured (by a concurrent settler): that is the state we wanted.
            current = self.retrieve(intent_id)
            if current.status == "succeeded":
                return current
            raise

    def cancel(self, intent_id: str, idempotency_key: str) -> Authorization:
        try:
            with _translated("release the card"):
                return _authorization(self._post(_intent_path(intent_id, "cancel"),
                                                 self._options(idempotency_key, "release the card")))
        except ProcessorRefused:
            current = self.retrieve(intent_id)
            if current.status == "canceled":
                return current
            raise

    def refund(self, intent_id: str, idempotency_key: str) -> Authorization:
        with _translated("refund the payment"):
            self._post("/v1/refunds", {"idempotency_key": idempotency_key}, payment_intent=intent_id)
        return self.retrieve(intent_id)

    def retrieve(self, intent_id: str) -> Authorization:
        with _translated("look up the payment"):
            intent = self._get(_intent_path(intent_id), expand=["latest_charge"])
        return _authorization(intent)

    def _call(self, action: str, fn: Callable[[], T]) -> T | None:
        try:
            with _translated(action):
                return fn()
        except Exception:  # noqa: BLE001 - best effort; reconcile settles what this leaves
            return None
