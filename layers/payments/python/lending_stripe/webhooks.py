"""Stripe webhook signature verification (Stripe-Signature, HMAC-SHA256, tolerance)."""

from __future__ import annotations

from typing import Any

import stripe

from lending.errors import WebhookSignatureInvalid


def verify_event(payload: bytes, signature_header: str | None, secret: str, *, tolerance: int = 300) -> dict[str, Any]:
    """Return the event as a dict if the signature is valid; raise WebhookSignatureInvalid otherwise."""
    if not secret:
        raise WebhookSignatureInvalid("Webhooks are not configured (no signing secret).")
    if not signature_header:
        raise WebhookSignatureInvalid("Missing Stripe-Signature header.")
    try:
        event = stripe.Webhook.construct_event(payload.decode("utf-8"), signature_header, secret, tolerance=tolerance)
    except (stripe.SignatureVerificationError, ValueError, UnicodeDecodeError):
        raise WebhookSignatureInvalid("The Stripe-Signature does not match the payload.") from None
    return event.to_dict() if hasattr(event, "to_dict") else dict(event)
