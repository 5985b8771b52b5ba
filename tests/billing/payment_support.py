"""Helpers for payment tests: payments in a given state, and Stripe-shaped events signed the
way a gateway signs them."""

import json
import secrets
import time
from decimal import Decimal
from typing import Any

from django.conf import settings

from billing.gateways.signing import SIGNATURE_HEADER, signature_header
from billing.models import Payment
from billing.money import to_minor_units


def payment_make(
    customer,
    amount: str = "100.00",
    currency: str = "USD",
    *,
    bonus: str = "0",
    gateway: str = Payment.Gateway.SANDBOX,
    status: str = Payment.Status.PENDING,
    **fields: Any,
) -> Payment:
    return Payment.objects.create(
        customer=customer,
        purpose=Payment.Purpose.WALLET_TOPUP,
        amount=Decimal(amount),
        bonus=Decimal(bonus),
        currency=currency,
        method=Payment.Method.SANDBOX if gateway == "sandbox" else Payment.Method.CARD,
        gateway=gateway,
        status=status,
        **fields,
    )


def session_event(
    payment: Payment,
    kind: str = "checkout.session.completed",
    *,
    paid: bool = True,
    amount: Decimal | None = None,
    event_id: str | None = None,
) -> dict[str, Any]:
    """A Checkout Session event about `payment`, as Stripe (and the sandbox) send it."""
    minor = to_minor_units(payment.amount_money if amount is None else _money(amount, payment))
    return {
        "id": event_id or f"evt_test_{secrets.token_hex(8)}",
        "object": "event",
        "type": kind,
        "created": int(time.time()),
        "data": {
            "object": {
                "id": f"cs_test_{payment.pk}",
                "object": "checkout.session",
                "client_reference_id": str(payment.public_id),
                "payment_intent": payment.gateway_payment_id or f"pi_test_{payment.pk}",
                "payment_status": "paid" if paid else "unpaid",
                "amount_total": minor,
                "currency": payment.currency.lower(),
                "customer": "cus_test",
                "metadata": {"payment": str(payment.public_id)},
            }
        },
    }


def refund_event(payment: Payment, refunded: str, *, event_id: str | None = None) -> dict[str, Any]:
    return {
        "id": event_id or f"evt_test_{secrets.token_hex(8)}",
        "object": "event",
        "type": "charge.refunded",
        "created": int(time.time()),
        "data": {
            "object": {
                "id": f"ch_test_{payment.pk}",
                "object": "charge",
                "amount": to_minor_units(payment.amount_money),
                "amount_refunded": to_minor_units(_money(Decimal(refunded), payment)),
                "currency": payment.currency.lower(),
                "payment_intent": payment.gateway_payment_id or f"pi_test_{payment.pk}",
                "metadata": {},
            }
        },
    }


def signed(
    event: dict[str, Any], *, secret: str | None = None, timestamp: int | None = None
) -> tuple[bytes, dict[str, str]]:
    body = json.dumps(event).encode()
    secret = settings.SANDBOX_WEBHOOK_SECRET if secret is None else secret
    return body, {SIGNATURE_HEADER: signature_header(body, secret, timestamp)}


def post_event(client, event: dict[str, Any], *, gateway: str = "sandbox", **sign: Any):
    body, headers = signed(event, **sign)
    return client.post(
        f"/pay/webhooks/{gateway}/",
        data=body,
        content_type="application/json",
        headers=headers,
    )


def _money(amount: Decimal, payment: Payment):
    from djmoney.money import Money

    return Money(amount, payment.currency)
