"""POST /webhooks/stripe: verify Stripe-Signature, then let the processor's word settle the ledger."""

from lending import webhooks
from lending_http import Call, Response, operation
from lending_stripe import verify_event


@operation("stripe_webhook")
def handle(call: Call) -> Response:
    request = call.request
    event = verify_event(request.body, request.headers.get("stripe-signature"), call.settings.stripe_webhook_secret)
    return Response(200, {"received": True, "outcome": webhooks.apply_event(call.store, call.gateway, event)})
