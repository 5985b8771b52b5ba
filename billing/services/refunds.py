"""Refunds of orders: a customer asks for one (an eSIM not installed, within the window),
finance approves or rejects it, and the money goes back to the wallet or to the original
payment method. Staff may refund any paid order directly.

What is refunded never exceeds what was paid less what was already refunded: the check and
the new total are written under the order's lock, and the database refuses anything more
(`billing_order_refund_le_total`). A gateway is called with no lock held: the amount is
reserved first, then sent, then the outcome is written; a failure gives the amount back.
"""

import logging
from datetime import timedelta
from decimal import ROUND_DOWN, Decimal
from functools import partial
from typing import TYPE_CHECKING

from django.conf import settings
from django.db import IntegrityError, transaction
from django.db.models import Sum
from django.utils import timezone
from django.utils.translation import gettext as _
from djmoney.money import Money

from billing.exceptions import RefundRefused
from billing.gateways import GatewayError, gateway_get
from billing.models import Delivery, JournalEntry, LedgerAccount, Order, OrderLine, Payment, Refund
from billing.money import is_exact, quantum
from billing.services.fulfilment import order_undelivered_amount
from billing.services.ledger import Line, ledger_post, system_account_get
from billing.services.wallets import wallet_get
from catalog.models import Bundle, EsimProfile
from catalog.services import profiles_set_status

if TYPE_CHECKING:
    from collections.abc import Callable

    from accounts.models import User

logger = logging.getLogger(__name__)

Status = Refund.Status
Destination = Refund.Destination
Purpose = LedgerAccount.Purpose

# The reason on a refund the system makes; the customer's email explains it in their language.
OUT_OF_STOCK = "Out of stock"


# --- What a customer may ask for ------------------------------------------------


def esim_refund_line(*, customer: "User", profile: EsimProfile) -> OrderLine:
    """The order line that sold `profile` to `customer`, if a refund may be requested for it;
    RefundRefused saying why not otherwise."""
    delivery = (
        Delivery.objects.select_related("line", "line__order")
        .filter(profile=profile, line__kind=OrderLine.Kind.ESIM, line__order__customer=customer)
        .first()
    )
    if delivery is None or profile.owner_id != customer.pk:
        raise RefundRefused(_("Only an eSIM you bought here can be refunded."))
    order = delivery.line.order
    if Refund.objects.filter(profile=profile, status=Status.COMPLETED).exists():
        raise RefundRefused(_("This eSIM has already been refunded."))
    if profile.status != EsimProfile.Status.ASSIGNED or _used(profile):
        raise RefundRefused(_("This eSIM has been installed or used, so it cannot be refunded."))
    window = timedelta(days=settings.SIMDESK_REFUND_WINDOW_DAYS)
    if order.paid_at is None or order.paid_at + window < timezone.now():
        raise RefundRefused(
            _("Refunds can be requested within %(days)d days of purchase.")
            % {"days": settings.SIMDESK_REFUND_WINDOW_DAYS}
        )
    if Refund.objects.filter(profile=profile, status__in=Refund.OPEN).exists():
        raise RefundRefused(_("A refund of this eSIM is already being reviewed."))
    return delivery.line


def _used(profile: EsimProfile) -> bool:
    return profile.bundles.exclude(status=Bundle.Status.QUEUED, data_used_bytes=0).exists()


def esim_refund_amount(line: OrderLine) -> Money:
    """One eSIM's share of what its line cost, after the coupon."""
    currency = line.order.currency
    share = (line.total / line.quantity).quantize(quantum(currency), ROUND_DOWN)
    return Money(share, currency)


def refund_request(*, customer: "User", profile: EsimProfile, reason: str) -> Refund:
    """The customer asks for an unused eSIM's money back; finance decides."""
    line = esim_refund_line(customer=customer, profile=profile)
    amount = esim_refund_amount(line)
    if amount.amount <= 0:
        raise RefundRefused(_("This eSIM cost nothing, so there is nothing to refund."))
    try:
        with transaction.atomic():
            return Refund.objects.create(
                order=line.order,
                profile=profile,
                amount=amount.amount,
                currency=line.order.currency,
                reason=reason.strip(),
                requested_by=customer,
            )
    except IntegrityError as exc:  # a second click raced the first
        raise RefundRefused(_("A refund of this eSIM is already being reviewed.")) from exc


# --- Deciding ---------------------------------------------------------------------


def refund_approve(
    *,
    refund_id: int,
    actor: "User | None",
    destination: str,
    amount: Decimal | None = None,
    note: str = "",
) -> Refund:
    """Approve a requested refund, for its amount or a smaller one, to the wallet or to the
    original payment method (an order paid from the wallet goes back to the wallet)."""

    def requested(order: Order) -> Refund:
        refund = Refund.objects.select_for_update().get(pk=refund_id, order=order)
        if refund.status != Status.REQUESTED:
            raise RefundRefused(_("This refund has already been decided."))
        return refund

    order_id = Refund.objects.values_list("order_id", flat=True).get(pk=refund_id)
    refund = _reserve(order_id, destination, requested, actor=actor, amount=amount, note=note)
    if refund.status == Status.PROCESSING:
        refund = _gateway_refund(refund)
    return refund


def refund_reject(*, refund_id: int, actor: "User", note: str) -> Refund:
    if not note.strip():
        raise RefundRefused(_("Tell the customer why the refund is rejected."))
    with transaction.atomic(durable=True):
        refund = Refund.objects.select_for_update().get(pk=refund_id)
        if refund.status != Status.REQUESTED:
            raise RefundRefused(_("This refund has already been decided."))
        refund.status = Status.REJECTED
        refund.decided_by = actor
        refund.decided_at = timezone.now()
        refund.decision_note = note.strip()
        refund.save(update_fields=["status", "decided_by", "decided_at", "decision_note"])
        transaction.on_commit(partial(_notice_enqueue, refund.pk))
    return refund


def refund_issue(
    *,
    order: Order,
    amount: Decimal,
    destination: str,
    actor: "User | None",
    reason: str,
    profile: EsimProfile | None = None,
) -> Refund:
    """Staff refund a paid order directly: requested and approved at once."""
    if not reason.strip():
        raise RefundRefused(_("A refund needs a reason."))

    def new(locked: Order) -> Refund:
        # Checked under the lock, before the row: the database would refuse a bad amount
        # (zero, or finer than the currency's unit) with an IntegrityError instead.
        _amount_check(locked, amount)
        return Refund.objects.create(
            order=locked,
            profile=profile,
            amount=amount,
            currency=locked.currency,
            reason=reason.strip(),
            requested_by=actor,
        )

    refund = _reserve(order.pk, destination, new, actor=actor, amount=amount, note="")
    if refund.status == Status.PROCESSING:
        refund = _gateway_refund(refund)
    return refund


def _reserve(
    order_id: int,
    destination: str,
    refund_for: "Callable[[Order], Refund]",
    *,
    actor: "User | None",
    amount: Decimal | None,
    note: str,
) -> Refund:
    """Lock the wallet (when refunding to it) and the order, find or make the refund, and
    count it on the order (see _reserve_locked)."""
    order = Order.objects.get(pk=order_id)
    if order.paid_with != Order.PaidWith.GATEWAY:
        destination = Destination.WALLET
    if destination not in Destination.values:
        raise RefundRefused(_("Choose where the money goes back to."))
    with transaction.atomic(durable=True):
        wallet = None
        if destination == Destination.WALLET:
            wallet = wallet_get(user=order.customer, currency=order.currency)
            LedgerAccount.objects.select_for_update().filter(pk=wallet.pk).get()
        order = Order.objects.select_for_update().get(pk=order_id)
        refund = refund_for(order)
        _reserve_locked(refund, order, wallet, actor=actor, amount=amount, note=note)
    return refund


def _reserve_locked(
    refund: Refund,
    order: Order,
    wallet: LedgerAccount | None,
    *,
    actor: "User | None",
    amount: Decimal | None,
    note: str,
) -> None:
    """With the wallet (when refunding to it) and the order locked: count the refund on the
    order; to the wallet, post and finish at once; to a gateway, leave it processing."""
    value = refund.amount if amount is None else amount
    _amount_check(order, value)
    order.refunded_amount += value
    if order.refunded_amount == order.total:
        order.status = Order.Status.REFUNDED
    elif order.status != Order.Status.AWAITING_STOCK:
        # An order still waiting for stock keeps waiting: what it owes is delivered when
        # stock arrives, or refunded after the wait (order_stock_timeout_refund).
        order.status = Order.Status.PARTIALLY_REFUNDED
    order.save(update_fields=["refunded_amount", "status"])
    refund.amount = value
    refund.destination = Destination.WALLET if wallet is not None else Destination.ORIGINAL
    refund.decided_by = actor
    refund.decided_at = timezone.now()
    refund.decision_note = note.strip()
    if wallet is not None:
        _refund_post(refund, order, credit=wallet)
        _complete(refund)
    else:
        refund.status = Status.PROCESSING
    refund.save()


def _amount_check(order: Order, value: Decimal) -> None:
    if value <= 0 or not is_exact(Money(value, order.currency)):
        raise RefundRefused(_("Enter an amount greater than zero, in the currency's units."))
    if not order.is_paid or order.paid_at is None:
        raise RefundRefused(_("Only a paid order can be refunded."))
    left = order.total - order.refunded_amount
    if value > left:
        raise RefundRefused(
            _("At most %(amount)s %(currency)s of this order is left to refund.")
            % {"amount": left, "currency": order.currency}
        )


def _refund_post(refund: Refund, order: Order, *, credit: LedgerAccount) -> None:
    """Sales refunds against the wallet or gateway clearing."""
    money = refund.amount_money
    ledger_post(
        lines=[
            Line(
                system_account_get(purpose=Purpose.SALES_REFUNDS, currency=refund.currency), money
            ),
            Line(credit, -money),
        ],
        idempotency_key=f"refund:{refund.pk}",
        kind=JournalEntry.Kind.REFUND,
        memo=f"Refund {refund.number} of order {order.number}",
        created_by=refund.decided_by,
        payment=order.payment if refund.destination == Destination.ORIGINAL else None,
    )


def _complete(refund: Refund) -> None:
    """The money is back: the eSIM is voided and the customer told (after commit)."""
    refund.status = Status.COMPLETED
    refund.completed_at = timezone.now()
    if refund.profile_id is not None:
        profile = EsimProfile.objects.get(pk=refund.profile_id)
        if profile.status not in (EsimProfile.Status.VOID, EsimProfile.Status.EXPIRED):
            profiles_set_status(profile_ids=[profile.pk], status=EsimProfile.Status.VOID)
    transaction.on_commit(partial(_notice_enqueue, refund.pk))


def _gateway_refund(refund: Refund) -> Refund:
    """Send a reserved refund to the gateway (no lock held), then write the outcome."""
    order = Order.objects.select_related("payment").get(pk=refund.order_id)
    payment = order.payment
    assert payment is not None
    try:
        result = gateway_get(payment.gateway).refund_create(
            payment=payment,
            amount=refund.amount_money,
            idempotency_key=f"refund-{refund.public_id}",
        )
    except GatewayError as exc:
        logger.warning("gateway refused refund %s: %s", refund.number, exc)
        return _gateway_refund_failed(refund, str(exc))
    if result.status == "failed":
        return _gateway_refund_failed(refund, _("The gateway declined the refund."))
    with transaction.atomic(durable=True):
        order = Order.objects.select_for_update().get(pk=refund.order_id)
        payment = Payment.objects.select_for_update().get(pk=payment.pk)
        refund = Refund.objects.select_for_update().get(pk=refund.pk)
        if refund.status != Status.PROCESSING:
            return refund
        clearing = system_account_get(purpose=Purpose.GATEWAY_CLEARING, currency=refund.currency)
        _refund_post(refund, order, credit=clearing)
        refund.gateway_refund_id = result.refund_id
        _complete(refund)
        refund.save()
        sent = Refund.objects.filter(
            order=order, destination=Destination.ORIGINAL, status=Status.COMPLETED
        ).aggregate(total=Sum("amount"))["total"] or Decimal(0)
        # The gateway's own event may have recorded it first: keep the larger figure.
        payment.refunded_amount = min(payment.amount, max(payment.refunded_amount, sent))
        payment.status = (
            Payment.Status.REFUNDED
            if payment.refunded_amount == payment.amount
            else Payment.Status.PARTIALLY_REFUNDED
        )
        payment.save(update_fields=["refunded_amount", "status", "updated_at"])
    return refund


def _gateway_refund_failed(refund: Refund, message: str) -> Refund:
    """Give the reserved amount back to the order and say what went wrong."""
    with transaction.atomic(durable=True):
        order = Order.objects.select_for_update().get(pk=refund.order_id)
        refund = Refund.objects.select_for_update().get(pk=refund.pk)
        if refund.status != Status.PROCESSING:
            return refund
        order.refunded_amount -= refund.amount
        if order.status in (Order.Status.REFUNDED, Order.Status.PARTIALLY_REFUNDED):
            if order.refunded_amount > 0:
                order.status = Order.Status.PARTIALLY_REFUNDED
            elif order.fulfilled_at:
                order.status = Order.Status.FULFILLED
            elif order.awaiting_stock_since:
                order.status = Order.Status.AWAITING_STOCK
            else:
                order.status = Order.Status.PAID
        order.save(update_fields=["refunded_amount", "status"])
        refund.status = Status.FAILED
        refund.failure_message = message[:500]
        refund.save(update_fields=["status", "failure_message"])
    return refund


def refunds_processing_due(*, limit: int = 100) -> list[int]:
    """Refunds approved to a gateway more than 5 minutes ago and not finished: the process
    that sent them stopped before writing the outcome. Sending again is safe (same key)."""
    cutoff = timezone.now() - timedelta(minutes=5)
    return list(
        Refund.objects.filter(status=Status.PROCESSING, decided_at__lt=cutoff)
        .order_by("decided_at")
        .values_list("pk", flat=True)[:limit]
    )


def refund_resume(*, refund_id: int) -> Refund:
    refund = Refund.objects.get(pk=refund_id)
    if refund.status != Status.PROCESSING:
        return refund
    return _gateway_refund(refund)


# --- Orders that waited too long for stock ---------------------------------------------


def order_stock_timeout_refund(*, order_id: int) -> Refund | None:
    """Refund to the wallet what an order still waiting for stock could not deliver. Safe to
    run twice: the second run finds the order no longer waiting."""
    order = Order.objects.get(pk=order_id)
    with transaction.atomic(durable=True):
        wallet = wallet_get(user=order.customer, currency=order.currency)
        LedgerAccount.objects.select_for_update().filter(pk=wallet.pk).get()
        order = Order.objects.select_for_update().get(pk=order_id)
        if order.status != Order.Status.AWAITING_STOCK:
            return None
        # What was not delivered, less any part of the order staff refunded meanwhile.
        amount = min(order_undelivered_amount(order), order.refundable_money)
        if amount.amount <= 0:
            return None
        refund = Refund.objects.create(
            order=order, amount=amount.amount, currency=order.currency, reason=OUT_OF_STOCK
        )
        _reserve_locked(refund, order, wallet, actor=None, amount=None, note="")
        if order.status == Order.Status.AWAITING_STOCK:
            # Given up on: what was delivered stays delivered, the rest was refunded.
            order.status = Order.Status.PARTIALLY_REFUNDED
            order.save(update_fields=["status"])
    return refund


# --- Telling the customer ---------------------------------------------------------


def _notice_enqueue(refund_id: int) -> None:
    from billing.tasks import refund_notice_send_task

    refund_notice_send_task.delay(refund_id)


def refund_notice_send(*, refund_id: int) -> None:
    from billing.services.emails import email_send

    refund = Refund.objects.select_related("order", "order__customer", "profile").get(pk=refund_id)
    template = {
        Status.COMPLETED: "billing/email/refund_completed",
        Status.REJECTED: "billing/email/refund_rejected",
    }.get(Refund.Status(refund.status))
    if template is None:
        return
    email_send(
        to=refund.order.customer,
        template=template,
        context={"refund": refund, "out_of_stock": refund.reason == OUT_OF_STOCK},
    )
