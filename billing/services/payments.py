"""Payments after they start: applying what a gateway says (from an event or a look-up),
posting the capture to the ledger exactly once, and the confirmation email.

Lock order, as everywhere in billing: the wallet, then the payment. Never while calling a
gateway: a look-up runs with no transaction open, then the answer is applied under the locks
and checked again against the payment's status.
"""

import logging
from collections.abc import Callable
from datetime import timedelta

from django.conf import settings
from django.core.mail import send_mail
from django.db import transaction
from django.template.loader import render_to_string
from django.utils import timezone, translation
from django.utils.translation import gettext as _

from billing.exceptions import AmountMismatch, PaymentError, PaymentNotReady
from billing.gateways import Gateway, GatewayError, PaymentUpdate, gateway_get
from billing.models import JournalEntry, LedgerAccount, Order, Payment
from billing.services.ledger import Line, ledger_post, system_account_get
from billing.services.wallets import wallet_get

logger = logging.getLogger(__name__)

Status = Payment.Status
Purpose = LedgerAccount.Purpose

ERROR_AMOUNT = "the gateway captured {got}, the payment is for {expected}"
ERROR_NOT_CAPTURED = "a refund was reported for payment {id}, which is not captured yet"
ERROR_NO_HANDLER = "no confirmation step for payments of purpose {purpose}"

# Where a top-up's money sits until the gateway pays it out, by how it was received.
CLEARING = {
    Payment.Method.CASH: Purpose.CASH_ON_HAND,
    Payment.Method.BANK_TRANSFER: Purpose.BANK,
}


def payment_capture(*, payment_id: int) -> Payment:
    """Mark a counter payment captured and post it; the gateways' path is payment_update_apply."""
    with transaction.atomic():
        payment = Payment.objects.get(pk=payment_id)
        return payment_update_apply(
            payment=payment,
            update=PaymentUpdate(status=Status.SUCCEEDED, amount=payment.amount_money),
        )


def payment_checkout_open(
    *, payment: Payment, gateway: Gateway, return_url: str, cancel_url: str, webhook_url: str
) -> Payment:
    """Open the gateway's page for a committed payment and move it to pending.

    No lock is held while the gateway is called: the payment was committed first, and the
    answer is written with guarded updates. A payment already sent (a double submit) or
    already closed comes back as it is.
    """
    if payment.redirect_url or not payment.is_open:
        return payment
    try:
        checkout = gateway.checkout_start(
            payment=payment, return_url=return_url, cancel_url=cancel_url, webhook_url=webhook_url
        )
    except GatewayError as exc:
        Payment.objects.filter(pk=payment.pk, status__in=Payment.OPEN).update(
            status=Status.FAILED,
            failure_message=str(exc)[:500],
            settled_at=timezone.now(),
            updated_at=timezone.now(),
        )
        raise PaymentError(
            _("The payment could not be started. Nothing was charged; please try again.")
        ) from exc
    Payment.objects.filter(pk=payment.pk, status=Status.CREATED).update(
        status=Status.PENDING,
        redirect_url=checkout.redirect_url,
        gateway_session_id=checkout.session_id,
        gateway_payment_id=checkout.payment_id,
        gateway_customer_id=checkout.customer_id,
        updated_at=timezone.now(),
    )
    payment.refresh_from_db()
    return payment


def payment_update_apply(*, payment: Payment, update: PaymentUpdate) -> Payment:
    """Apply a gateway's word about `payment`, whatever order the words arrive in.

    - "succeeded" captures an open, failed or canceled payment (money arrived: it is never
      lost) and posts the capture once; on a captured payment it changes nothing.
    - "failed" and "canceled" close only an open payment: a late failure changes nothing.
    - refunds reported by the gateway are cumulative, so only a larger figure is recorded.
    """
    with transaction.atomic():
        # The wallet first (a top-up credits it; an order's payment may), then the order.
        wallet = wallet_get(user=payment.customer, currency=payment.currency)
        LedgerAccount.objects.select_for_update().filter(pk=wallet.pk).get()
        if payment.order_id is not None:
            Order.objects.select_for_update().filter(pk=payment.order_id).get()
        payment = Payment.objects.select_for_update().get(pk=payment.pk)
        now = timezone.now()
        for field, value in (
            ("gateway_payment_id", update.gateway_payment_id),
            ("gateway_customer_id", update.customer_id),
            ("gateway_method_id", update.method_id),
        ):
            if value and not getattr(payment, field):
                setattr(payment, field, value)
        if update.status == Status.SUCCEEDED and not payment.is_captured:
            if update.amount is not None and update.amount != payment.amount_money:
                raise AmountMismatch(
                    ERROR_AMOUNT.format(got=update.amount, expected=payment.amount_money)
                )
            payment.status = Status.SUCCEEDED
            payment.failure_message = ""
            payment.settled_at = now
            _capture_post(payment, wallet)
            transaction.on_commit(lambda: _confirmation_enqueue(payment.pk))
            if not payment.gateway_method_id and payment.gateway != Payment.Gateway.COUNTER:
                # Events about a hosted page do not name the card it saved: ask for it.
                transaction.on_commit(lambda: _refresh_enqueue(payment.pk))
        elif update.status in (Status.FAILED, Status.CANCELED) and payment.is_open:
            payment.status = update.status
            payment.failure_message = update.failure_message[:500]
            payment.settled_at = now
        elif update.status == Status.PENDING and payment.status == Status.CREATED:
            payment.status = Status.PENDING
        if update.amount_refunded is not None and update.amount_refunded.amount > 0:
            _refund_record(payment, update)
        payment.save()
    return payment


def _refund_record(payment: Payment, update: PaymentUpdate) -> None:
    assert update.amount_refunded is not None
    if not payment.is_captured:
        # The refund's event overtook the capture's: try again once the capture is in.
        raise PaymentNotReady(ERROR_NOT_CAPTURED.format(id=payment.pk))
    refunded = min(update.amount_refunded.amount, payment.amount)
    if refunded > payment.refunded_amount:
        payment.refunded_amount = refunded
        full = refunded == payment.amount
        payment.status = Status.REFUNDED if full else Status.PARTIALLY_REFUNDED


def _capture_post(payment: Payment, wallet: LedgerAccount) -> JournalEntry:
    handler = CAPTURE_HANDLERS.get(payment.purpose)
    if handler is None:
        raise PaymentError(ERROR_NO_HANDLER.format(purpose=payment.purpose))
    return handler(payment, wallet)


def _topup_capture_post(payment: Payment, wallet: LedgerAccount) -> JournalEntry:
    """Gateway clearing (or cash, or bank) and promotions for the bonus, against the wallet."""
    currency = payment.currency
    source = CLEARING.get(Payment.Method(payment.method), Purpose.GATEWAY_CLEARING)
    lines = [
        Line(system_account_get(purpose=source, currency=currency), payment.amount_money),
        Line(wallet, -payment.credited_money),
    ]
    if payment.bonus:
        promotions = system_account_get(purpose=Purpose.PROMOTIONS, currency=currency)
        lines.append(Line(promotions, payment.bonus_money))
    counter = payment.gateway == Payment.Gateway.COUNTER
    return ledger_post(
        lines=lines,
        idempotency_key=f"payment:{payment.pk}:capture",
        kind=JournalEntry.Kind.COUNTER_TOPUP if counter else JournalEntry.Kind.TOPUP,
        memo=f"Top-up {payment.receipt_number}"
        + (f" ({payment.get_method_display()} {payment.reference})" if counter else ""),
        created_by=payment.recorded_by,
        payment=payment,
    )


# What a captured payment is for; billing.services.orders adds Payment.Purpose.ORDER.
CAPTURE_HANDLERS: dict[str, Callable[[Payment, LedgerAccount], JournalEntry]] = {
    Payment.Purpose.WALLET_TOPUP: _topup_capture_post,
}


# --- The sweeper: a lost webhook still settles the payment ---------------------


def payments_due_for_lookup(*, limit: int = 500) -> list[int]:
    """Payments at a gateway still open after PAYMENT_LOOKUP_AFTER seconds, oldest first."""
    cutoff = timezone.now() - timedelta(seconds=settings.PAYMENT_LOOKUP_AFTER)
    return list(
        Payment.objects.filter(status__in=Payment.OPEN, created_at__lt=cutoff)
        .exclude(gateway=Payment.Gateway.COUNTER)
        .order_by("created_at")
        .values_list("pk", flat=True)[:limit]
    )


def payment_refresh(*, payment_id: int) -> Payment:
    """Ask the gateway about one payment (no lock held) and apply the answer: a payment still
    open (the sweeper), or one just captured whose saved card its events did not name."""
    payment = Payment.objects.select_related("customer").get(pk=payment_id)
    method_unknown = payment.is_captured and not payment.gateway_method_id
    if payment.gateway == Payment.Gateway.COUNTER or not (payment.is_open or method_unknown):
        return payment
    update = gateway_get(payment.gateway).payment_lookup(payment=payment)
    return payment_update_apply(payment=payment, update=update)


def _refresh_enqueue(payment_id: int) -> None:
    from billing.tasks import payment_refresh_task

    payment_refresh_task.delay(payment_id)


# --- Confirmation email -----------------------------------------------------------


def _confirmation_enqueue(payment_id: int) -> None:
    from billing.tasks import payment_confirmation_send_task

    payment_confirmation_send_task.delay(payment_id)


def payment_confirmation_send(*, payment_id: int) -> bool:
    """Email the customer, in their language, that the top-up arrived; at most once."""
    with transaction.atomic():
        # An order's payment is confirmed by the order's own delivery email.
        claimed = Payment.objects.filter(
            pk=payment_id,
            purpose=Payment.Purpose.WALLET_TOPUP,
            status__in=Payment.CAPTURED,
            confirmation_sent_at__isnull=True,
        ).update(confirmation_sent_at=timezone.now())
        if not claimed:
            return False
        payment = Payment.objects.select_related("customer").get(pk=payment_id)
        customer = payment.customer
        balance = wallet_get(user=customer, currency=payment.currency).balance
        with translation.override(customer.preferred_language):
            context = {"payment": payment, "customer": customer, "balance": balance}
            subject = render_to_string("billing/email/topup_confirmed_subject.txt", context)
            body = render_to_string("billing/email/topup_confirmed.txt", context)
        # Sent inside the claim's transaction: if the mail server refuses, the claim rolls
        # back and the task's retry sends it.
        send_mail(" ".join(subject.split()), body, None, [customer.email])
    return True
