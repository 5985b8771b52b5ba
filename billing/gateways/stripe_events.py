"""What Stripe's events (and the sandbox's, which have the same shape) say about a payment.

Checkout Session events carry our payment's public id in `client_reference_id`; PaymentIntent
and Charge events carry it in `metadata.payment`, or are matched by the PaymentIntent id.
"""

from typing import Any

from billing.gateways.base import PaymentUpdate
from billing.money import from_minor_units

PENDING, SUCCEEDED, FAILED, CANCELED = "pending", "succeeded", "failed", "canceled"

DECLINED_MESSAGE = "The payment was declined."
EXPIRED_MESSAGE = "The payment page expired before the payment was made."

SESSION_STATUS = {
    "checkout.session.async_payment_succeeded": SUCCEEDED,
    "checkout.session.async_payment_failed": FAILED,
    "checkout.session.expired": CANCELED,
}
INTENT_STATUS = {
    "payment_intent.succeeded": SUCCEEDED,
    "payment_intent.processing": PENDING,
    "payment_intent.payment_failed": FAILED,
    "payment_intent.canceled": CANCELED,
}


def stripe_event_parse(event: dict[str, Any]) -> PaymentUpdate | None:
    kind = event.get("type", "")
    obj = (event.get("data") or {}).get("object") or {}
    if kind == "checkout.session.completed":
        # "unpaid" means an asynchronous method (Alipay can confirm minutes later).
        paid = obj.get("payment_status") in ("paid", "no_payment_required")
        return session_update(obj, SUCCEEDED if paid else PENDING)
    if kind in SESSION_STATUS:
        return session_update(obj, SESSION_STATUS[kind])
    if kind in INTENT_STATUS:
        return intent_update(obj)
    if kind == "charge.refunded":
        return PaymentUpdate(
            reference=(obj.get("metadata") or {}).get("payment", ""),
            gateway_payment_id=_id(obj.get("payment_intent")),
            amount_refunded=from_minor_units(obj["amount_refunded"], obj["currency"].upper()),
        )
    return None


def session_update(session: dict[str, Any], status: str) -> PaymentUpdate:
    amount = None
    if status == SUCCEEDED and session.get("amount_total") is not None:
        amount = from_minor_units(session["amount_total"], session["currency"].upper())
    message = {FAILED: DECLINED_MESSAGE, CANCELED: EXPIRED_MESSAGE}.get(status, "")
    return PaymentUpdate(
        reference=session.get("client_reference_id")
        or (session.get("metadata") or {}).get("payment", ""),
        gateway_payment_id=_id(session.get("payment_intent")),
        status=status,
        amount=amount,
        failure_message=message,
        customer_id=_id(session.get("customer")),
    )


def intent_update(intent: dict[str, Any]) -> PaymentUpdate:
    """A PaymentIntent as an event or a look-up returns it."""
    status = {
        "succeeded": SUCCEEDED,
        "processing": PENDING,
        "requires_action": PENDING,
        "requires_confirmation": PENDING,
        "requires_capture": PENDING,
        "canceled": CANCELED,
    }.get(intent.get("status", ""), "")
    error = intent.get("last_payment_error") or {}
    if status == "" and error:
        # Stripe leaves a declined intent at requires_payment_method with the error beside it.
        status = FAILED
    currency = intent["currency"].upper()
    amount = None
    if status == SUCCEEDED:
        received = intent.get("amount_received") or intent.get("amount") or 0
        amount = from_minor_units(int(received), currency)
    # A card saved for off-session use (auto-renewal) is remembered with the customer.
    card_options = (intent.get("payment_method_options") or {}).get("card") or {}
    saved = "off_session" in (
        intent.get("setup_future_usage"),
        card_options.get("setup_future_usage"),
    ) or bool(intent.get("off_session"))
    charges = intent.get("latest_charge")
    refunded = None
    if isinstance(charges, dict) and charges.get("amount_refunded"):
        refunded = from_minor_units(charges["amount_refunded"], currency)
    return PaymentUpdate(
        reference=(intent.get("metadata") or {}).get("payment", ""),
        gateway_payment_id=intent.get("id", ""),
        status=status,
        amount=amount,
        amount_refunded=refunded,
        failure_message=(error.get("message") or DECLINED_MESSAGE) if status == FAILED else "",
        customer_id=_id(intent.get("customer")),
        method_id=_id(intent.get("payment_method")) if saved and status == SUCCEEDED else "",
    )


def _id(value: Any) -> str:
    """Stripe fields hold an id, or the expanded object, or nothing."""
    if isinstance(value, dict):
        return str(value.get("id", ""))
    return str(value or "")
