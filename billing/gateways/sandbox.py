"""The sandbox gateway, the default when no Stripe key is set: a local payment page whose
buttons settle a charge and send Stripe-shaped events, signed with Stripe's scheme, to our
webhook URL. The same verification, parsing and confirmation code runs as with Stripe.

The sandbox keeps its own records (SandboxCharge), as a real gateway does; look-ups and
reconciliation ask those, never our Payment rows.
"""

import json
import secrets
import time
from collections.abc import Mapping
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

from django.conf import settings
from django.db import transaction
from django.db.models import F
from django.db.models.functions import Coalesce
from django.urls import reverse
from django.utils import timezone
from djmoney.money import Money

from billing.gateways.base import (
    Checkout,
    Gateway,
    GatewayError,
    GatewayEventData,
    GatewayTransaction,
    PaymentUpdate,
    Refund,
)
from billing.gateways.signing import SIGNATURE_HEADER, signed_event_load
from billing.gateways.stripe_events import stripe_event_parse
from billing.models import SandboxCharge, SandboxRefund
from billing.money import to_minor_units

if TYPE_CHECKING:
    from accounts.models import User
    from billing.models import Payment

# A saved method with this id declines, so auto-renewal failures can be tried for real.
DECLINING_METHOD = "sbx_pm_card_declined"
# Like a Stripe Checkout Session's shortest expiry.
PAGE_LIFETIME = timedelta(minutes=30)

ERROR_NOT_OPEN = "This payment is no longer waiting: it was already paid or declined."
ERROR_REFUND_TOO_LARGE = "The refund is larger than what is left of the charge."
ERROR_NOT_PAID = "Only a paid charge can be refunded."

Status = SandboxCharge.Status


def _new_id(prefix: str) -> str:
    return f"{prefix}_{secrets.token_hex(12)}"


class SandboxGateway(Gateway):
    name = "sandbox"

    def checkout_start(
        self, *, payment: "Payment", return_url: str, cancel_url: str, webhook_url: str
    ) -> Checkout:
        charge = _charge_for(
            payment,
            customer_ref=f"sbx_cus_{payment.customer_id}",
            webhook_url=settings.SANDBOX_WEBHOOK_URL or webhook_url,
            return_url=return_url,
        )
        url = reverse("billing:sandbox-page", kwargs={"token": charge.token})
        return Checkout(
            redirect_url=url, payment_id=charge.charge_id, customer_id=charge.customer_ref
        )

    def webhook_verify(self, *, body: bytes, headers: Mapping[str, str]) -> GatewayEventData:
        event = signed_event_load(
            body, headers.get(SIGNATURE_HEADER, ""), settings.SANDBOX_WEBHOOK_SECRET
        )
        return GatewayEventData(event_id=event["id"], type=event["type"], payload=event)

    def event_parse(self, payload: dict[str, Any]) -> PaymentUpdate | None:
        return stripe_event_parse(payload)

    def payment_lookup(self, *, payment: "Payment") -> PaymentUpdate:
        charge = SandboxCharge.objects.filter(reference=str(payment.public_id)).first()
        if charge is None:
            return PaymentUpdate(reference=str(payment.public_id), status="canceled")
        due = charge.settles_at is not None and charge.settles_at <= timezone.now()
        if charge.status == Status.PROCESSING and due:
            charge = sandbox_settle(charge_id=charge.pk)
        return _charge_update(charge)

    def refund_create(self, *, payment: "Payment", amount: Money, idempotency_key: str) -> Refund:
        refund_id = f"sbx_re_{idempotency_key}"
        with transaction.atomic():
            charge = SandboxCharge.objects.select_for_update().get(reference=str(payment.public_id))
            done = SandboxRefund.objects.filter(refund_id=refund_id).first()
            if done is not None:
                # A retry under the same key: the first refund is the answer, as at Stripe.
                money = Money(done.amount, done.currency)
                return Refund(refund_id=refund_id, status="succeeded", amount=money)
            if charge.status != Status.SUCCEEDED:
                raise GatewayError(ERROR_NOT_PAID)
            if charge.amount_refunded + amount.amount > charge.amount:
                raise GatewayError(ERROR_REFUND_TOO_LARGE)
            charge.amount_refunded += amount.amount
            charge.save(update_fields=["amount_refunded"])
            SandboxRefund.objects.create(
                charge=charge,
                refund_id=refund_id,
                amount=amount.amount,
                currency=str(amount.currency),
            )
            _send(charge, "charge.refunded")
        return Refund(refund_id=refund_id, status="succeeded", amount=amount)

    def saved_method_charge(
        self, *, payment: "Payment", customer: "User", customer_id: str, method_id: str
    ) -> PaymentUpdate:
        declined = method_id == DECLINING_METHOD
        # The outcome is the answer itself: there is no page, and no event to send.
        charge = _charge_for(
            payment,
            status=Status.FAILED if declined else Status.SUCCEEDED,
            customer_ref=customer_id,
            method_ref=method_id,
            paid_at=None if declined else timezone.now(),
        )
        return _charge_update(charge)

    def transactions_list(self, *, start: datetime, end: datetime) -> list[GatewayTransaction]:
        """The sandbox's own records: charges paid and refunds made from `start` to `end`.
        The sandbox keeps no fee (every fee is zero) and pays nothing out (no payouts)."""
        charges = (
            SandboxCharge.objects.filter(status=Status.SUCCEEDED)
            .annotate(paid=Coalesce("paid_at", "created_at"))
            .filter(paid__gte=start, paid__lt=end)
            .order_by("paid", "pk")
        )
        found = [
            GatewayTransaction(
                id=charge.charge_id,
                kind="payment",
                payment_ref=charge.charge_id,
                amount=Money(charge.amount, charge.currency),
                fee=Money(0, charge.currency),
                created=charge.paid,
            )
            for charge in charges
        ]
        refunds = (
            SandboxRefund.objects.filter(created_at__gte=start, created_at__lt=end)
            .annotate(charge_ref=F("charge__charge_id"))
            .order_by("created_at", "pk")
        )
        found += [
            GatewayTransaction(
                id=refund.refund_id,
                kind="refund",
                payment_ref=refund.charge_ref,
                refund_id=refund.refund_id,
                amount=Money(-refund.amount, refund.currency),
                fee=Money(0, refund.currency),
                created=refund.created_at,
            )
            for refund in refunds
        ]
        return found


# --- The sandbox page's buttons ------------------------------------------------


def sandbox_pay(*, token: str) -> SandboxCharge:
    """ "Pay": the charge succeeds and the card is saved for off-session use."""
    return _settle_open(token, Status.SUCCEEDED)


def sandbox_decline(*, token: str) -> SandboxCharge:
    return _settle_open(token, Status.FAILED)


def sandbox_pay_later(*, token: str) -> SandboxCharge:
    """ "Pay in 2 minutes": accepted now, confirmed later, as Alipay can."""
    with transaction.atomic():
        charge = _lock_open(token)
        charge.status = Status.PROCESSING
        charge.settles_at = timezone.now() + timedelta(seconds=settings.SANDBOX_DELAY_SECONDS)
        charge.save(update_fields=["status", "settles_at"])
        _send(charge, "checkout.session.completed")
    from billing.tasks import sandbox_settle_task

    transaction.on_commit(
        lambda: sandbox_settle_task.apply_async(
            (charge.pk,), countdown=settings.SANDBOX_DELAY_SECONDS
        )
    )
    return charge


def sandbox_settle(*, charge_id: int) -> SandboxCharge:
    """The delayed confirmation arrives; safe to run twice."""
    with transaction.atomic():
        charge = SandboxCharge.objects.select_for_update().get(pk=charge_id)
        if charge.status == Status.PROCESSING:
            charge.status = Status.SUCCEEDED
            charge.method_ref = _new_id("sbx_pm")
            charge.paid_at = timezone.now()
            charge.save(update_fields=["status", "method_ref", "paid_at"])
            _send(charge, "checkout.session.async_payment_succeeded")
    return charge


def sandbox_charge_for_page(*, token: str) -> SandboxCharge | None:
    return SandboxCharge.objects.filter(token=token).first()


def _charge_for(payment: "Payment", **fields: Any) -> SandboxCharge:
    """The sandbox's charge for our payment, opened on the first call (the gateway's side of
    an idempotency key: a second call finds the first charge)."""
    charge, _created = SandboxCharge.objects.get_or_create(
        reference=str(payment.public_id),
        defaults={
            "charge_id": _new_id("sbx_pi"),
            "amount": payment.amount,
            "currency": payment.currency,
            "description": str(payment.get_purpose_display()),
            **fields,
        },
    )
    return charge


def _lock_open(token: str) -> SandboxCharge:
    charge = SandboxCharge.objects.select_for_update().get(token=token)
    if charge.status != Status.OPEN:
        raise GatewayError(ERROR_NOT_OPEN)
    return charge


def _settle_open(token: str, status: str) -> SandboxCharge:
    with transaction.atomic():
        charge = _lock_open(token)
        charge.status = status
        if status == Status.SUCCEEDED:
            charge.method_ref = _new_id("sbx_pm")
            charge.paid_at = timezone.now()
        charge.save(update_fields=["status", "method_ref", "paid_at"])
        _send(charge, "checkout.session.completed")
        if status == Status.FAILED:
            _send(charge, "payment_intent.payment_failed")
    return charge


def _charge_update(charge: SandboxCharge) -> PaymentUpdate:
    status = {
        Status.SUCCEEDED: "succeeded",
        Status.FAILED: "failed",
        Status.PROCESSING: "pending",
        Status.OPEN: "pending",
    }[Status(charge.status)]
    if charge.status == Status.OPEN and charge.created_at < timezone.now() - PAGE_LIFETIME:
        status = "canceled"
    money = Money(charge.amount, charge.currency)
    return PaymentUpdate(
        reference=charge.reference,
        gateway_payment_id=charge.charge_id,
        status=status,
        amount=money if status == "succeeded" else None,
        amount_refunded=Money(charge.amount_refunded, charge.currency)
        if charge.amount_refunded
        else None,
        failure_message="The payment was declined." if status == "failed" else "",
        customer_id=charge.customer_ref,
        method_id=charge.method_ref if status == "succeeded" else "",
    )


def _event_object(charge: SandboxCharge, kind: str) -> dict[str, Any]:
    minor = to_minor_units(Money(charge.amount, charge.currency))
    if kind == "charge.refunded":
        return {
            "id": charge.charge_id.replace("sbx_pi", "sbx_ch"),
            "object": "charge",
            "amount": minor,
            "amount_refunded": to_minor_units(Money(charge.amount_refunded, charge.currency)),
            "currency": charge.currency.lower(),
            "payment_intent": charge.charge_id,
            "metadata": {"payment": charge.reference},
        }
    if kind.startswith("payment_intent."):
        return {
            "id": charge.charge_id,
            "object": "payment_intent",
            "amount": minor,
            "amount_received": minor if charge.status == Status.SUCCEEDED else 0,
            "currency": charge.currency.lower(),
            "status": "requires_payment_method",
            "last_payment_error": {"message": "Your card was declined. (test gateway)"},
            "customer": charge.customer_ref,
            "metadata": {"payment": charge.reference},
        }
    return {
        "id": charge.charge_id.replace("sbx_pi", "sbx_cs"),
        "object": "checkout.session",
        "client_reference_id": charge.reference,
        "payment_intent": charge.charge_id,
        "payment_status": "paid" if charge.status == Status.SUCCEEDED else "unpaid",
        "amount_total": minor,
        "currency": charge.currency.lower(),
        "customer": charge.customer_ref,
        "metadata": {"payment": charge.reference},
    }


def _send(charge: SandboxCharge, kind: str) -> None:
    """Deliver the event after commit, through the task that retries like a gateway does.
    A charge made with the customer away has no webhook: its outcome was the answer."""
    if not charge.webhook_url:
        return
    event = {
        "id": _new_id("evt_sbx"),
        "object": "event",
        "type": kind,
        "created": int(time.time()),
        "data": {"object": _event_object(charge, kind)},
    }
    from billing.tasks import sandbox_event_deliver_task

    body = json.dumps(event, separators=(",", ":"))
    url = charge.webhook_url
    transaction.on_commit(lambda: sandbox_event_deliver_task.delay(url, body))
