"""Stripe's webhook signature scheme, `Stripe-Signature: t=<unix time>,v1=<HMAC-SHA256 hex>`
over "<t>.<body>". Stripe's own library verifies both gateways' events; the sandbox signs."""

import hashlib
import hmac
import json
import time
from typing import Any

import stripe

from billing.gateways.base import WebhookInvalid

SIGNATURE_HEADER = "Stripe-Signature"
# Stripe's default: an event signed more than five minutes ago is refused (replay protection).
TOLERANCE_SECONDS = stripe.Webhook.DEFAULT_TOLERANCE

ERROR_NO_SECRET = "webhook secret is not configured"  # noqa: S105 (a message)
ERROR_BODY = "webhook body is not a JSON event"


def signature_header(body: bytes, secret: str, timestamp: int | None = None) -> str:
    timestamp = int(time.time()) if timestamp is None else timestamp
    signed = f"{timestamp}.".encode() + body
    digest = hmac.new(secret.encode(), signed, hashlib.sha256).hexdigest()
    return f"t={timestamp},v1={digest}"


def signed_event_load(body: bytes, header: str, secret: str) -> dict[str, Any]:
    """The event in `body` once its signature verifies within the tolerance; else WebhookInvalid."""
    if not secret:
        raise WebhookInvalid(ERROR_NO_SECRET)
    try:
        payload = body.decode("utf-8")
        stripe.WebhookSignature.verify_header(payload, header, secret, TOLERANCE_SECONDS)
        event = json.loads(payload)
    except (stripe.SignatureVerificationError, UnicodeDecodeError, ValueError) as exc:
        raise WebhookInvalid(str(exc)) from exc
    if not isinstance(event, dict) or not event.get("id") or not event.get("type"):
        raise WebhookInvalid(ERROR_BODY)
    return event
