"""Stripe adapter: the PaymentGateway port on the official `stripe` library.

Stripe's exceptions never leave this package: a card the issuer refused becomes
`PaymentDeclined` (with the reason), anything that means "the processor could not
answer" becomes `PaymentProcessorUnavailable`.
"""

from functools import lru_cache

from lending_settings import Settings
from lending_stripe import _lean_import  # noqa: F401  - first: stripe without the HTTP clients it would pick
from lending_stripe.gateway import StripeGateway
from lending_stripe.webhooks import verify_event

__all__ = ["StripeGateway", "gateway_from", "verify_event"]


@lru_cache(maxsize=4)
def gateway_from(settings: Settings) -> StripeGateway:
    return StripeGateway(settings.stripe_api_key, api_base=settings.stripe_api_base,
                         timeout_seconds=settings.stripe_timeout_seconds, max_retries=settings.stripe_max_retries)
