"""POST /webhooks/stripe: verify Stripe-Signature, then let the processor's word settle the ledger."""

from lending import webhooks
from lending.config import settings
from lending.http import Request, Response, endpoint
from lending_observability import instrument
from lending_postgres import store_from
from lending_stripe import gateway_from, verify_event


@instrument("stripe_webhook")
@endpoint
def handle(request: Request) -> Response:
    config = settings()
    event = verify_event(request.body, request.headers.get("stripe-signature"), config.stripe_webhook_secret)
    outcome = webhooks.apply_event(store_from(config), gateway_from(config), event)
    return Response(200, {"received": True, "outcome": outcome})
