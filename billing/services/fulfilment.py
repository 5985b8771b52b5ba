"""Fulfilment: a paid order's lines become eSIMs and bundles, the cost of what was sold is
posted, and the customer gets the delivery email. Run twice, it delivers nothing more: each
line is delivered once, under the order's lock, and each (line, profile) is unique.

An eSIM line short of stock leaves the order "awaiting stock": reseller staff are emailed and
the order is fulfilled by itself when profiles arrive, or refunded to the wallet after
SIMDESK_AWAITING_STOCK_HOURS.
"""

import logging
from collections import defaultdict
from datetime import timedelta
from decimal import Decimal
from functools import partial
from typing import cast

from django.conf import settings
from django.db import transaction
from django.db.models import Sum
from django.utils import timezone
from djmoney.money import Money

from billing.models import AutoRenewal, Delivery, JournalEntry, LedgerAccount, Order, OrderLine
from billing.selectors.renewals import card_running_bundle, plan_change_credit
from billing.services.ledger import Line, ledger_post, system_account_get
from billing.services.wallets import wallet_credit, wallet_get
from catalog.exceptions import OutOfStock
from catalog.models import Bundle, EsimProfile, Plan
from catalog.selectors import bundle_to_extend
from catalog.services import profiles_assign, profiles_reserve

logger = logging.getLogger(__name__)

Status = Order.Status
Kind = OrderLine.Kind
Purpose = LedgerAccount.Purpose

FULFILLABLE = (Status.PAID, Status.AWAITING_STOCK)


def order_fulfil(*, order_id: int) -> Order:
    """Deliver what a paid order still owes; a no-op for an order fulfilled or not paid."""
    with transaction.atomic(durable=True):
        # The wallet first, then the order: a plan change credits the wallet.
        order = Order.objects.select_related("customer").get(pk=order_id)
        wallet = wallet_get(user=order.customer, currency=order.currency)
        LedgerAccount.objects.select_for_update().filter(pk=wallet.pk).get()
        order = Order.objects.select_for_update().get(pk=order_id)
        order_fulfil_locked(order)
    return order


def order_fulfil_locked(order: Order) -> None:
    """The work of order_fulfil, inside the caller's transaction with the order locked."""
    if order.status not in FULFILLABLE:
        return
    lines = list(
        order.lines.filter(fulfilled_at__isnull=True).select_related("plan").order_by("pk")
    )
    now = timezone.now()
    short = False
    for line in lines:
        if line.kind == Kind.ESIM:
            try:
                profiles = profiles_reserve(plan=line.plan, quantity=line.quantity)
            except OutOfStock:
                short = True
                continue
            _esims_deliver(order, line, profiles)
        else:
            _card_deliver(line)
        line.fulfilled_at = now
        line.save(update_fields=["fulfilled_at"])
    if short:
        if order.status != Status.AWAITING_STOCK:
            order.status = Status.AWAITING_STOCK
            order.awaiting_stock_since = now
            order.save(update_fields=["status", "awaiting_stock_since"])
            transaction.on_commit(partial(_enqueue, "order_stock_alert_send_task", order.pk))
        return
    order.status = Status.FULFILLED
    order.fulfilled_at = now
    order.save(update_fields=["status", "fulfilled_at"])
    transaction.on_commit(partial(_enqueue, "order_delivery_send_task", order.pk))


def _esims_deliver(order: Order, line: OrderLine, profiles: list[EsimProfile]) -> None:
    """Reserved profiles become the customer's eSIMs, each with its first bundle, which
    starts as the plan's activation policy says (on install or on first use)."""
    profiles_assign(profiles=profiles, owner=order.customer)
    plan = line.plan
    bundles = Bundle.objects.bulk_create(
        Bundle(profile=profile, plan=plan, data_allowance_mb=plan.data_mb) for profile in profiles
    )
    Delivery.objects.bulk_create(
        Delivery(line=line, profile=profile, bundle=bundle)
        for profile, bundle in zip(profiles, bundles, strict=True)
    )
    costs: dict[str, Decimal] = defaultdict(Decimal)
    for profile in profiles:
        wholesale = cast(Money, profile.wholesale_cost)
        costs[str(wholesale.currency)] += wholesale.amount
    for currency, cost in costs.items():
        _cost_post(line, Money(cost, currency), credit=Purpose.ESIM_INVENTORY)


def _card_deliver(line: OrderLine) -> None:
    """An add-on or a renewal for a card: a bundle queued after the card's last one, or (an
    "extend" add-on) its data added to the bundle running now."""
    assert line.profile_id is not None
    # One line at a time per card: two orders for the same card queue one after the other.
    profile = EsimProfile.objects.select_for_update().get(pk=line.profile_id)
    plan = line.plan
    bundle = None
    extend = line.kind == Kind.ADDON and plan.addon_mode == Plan.AddonMode.EXTEND
    if extend:
        target = bundle_to_extend(profile)
        if target is not None and plan.data_mb is not None:
            Bundle.objects.filter(pk=target.pk).update(
                data_allowance_mb=(target.data_allowance_mb or 0) + plan.data_mb,
                status=Bundle.Status.ACTIVE
                if target.status == Bundle.Status.DEPLETED
                else target.status,
            )
        else:
            # The running bundle ended between payment and delivery: queue it instead.
            extend = False
    if line.kind == Kind.CHANGE and line.starts_now:
        bundle = _plan_change_now(line, profile)
    elif not extend:
        bundle = Bundle.objects.create(
            profile=profile, plan=plan, data_allowance_mb=plan.data_mb, **_queue_after(profile)
        )
    if line.kind == Kind.CHANGE:
        # Auto-renewal follows the card to its new plan.
        AutoRenewal.objects.filter(profile=profile).update(plan=plan, updated_at=timezone.now())
    Delivery.objects.create(line=line, profile=profile, bundle=bundle)
    _cost_post(line, cast(Money, plan.wholesale_cost), credit=Purpose.SUPPLIER_PAYABLE)


def _plan_change_now(line: OrderLine, profile: EsimProfile) -> Bundle:
    """The new plan replaces the running bundle now: that one ends, its unused share (by days
    or by data, whichever is smaller) goes to the wallet, and bundles queued after it follow
    the new one instead."""
    now = timezone.now()
    plan = line.plan
    current = card_running_bundle(profile)
    if current is not None:
        credit = plan_change_credit(bundle=current, now=now)
        assert current.starts_at is not None
        ends = max(now, current.starts_at + timedelta(seconds=1))
        Bundle.objects.filter(pk=current.pk).update(status=Bundle.Status.EXPIRED, ends_at=ends)
        if credit is not None and credit.amount > 0:
            wallet_credit(
                wallet=wallet_get(user=line.order.customer, currency=str(credit.currency)),
                amount=credit,
                source=Purpose.SALES_REFUNDS,
                idempotency_key=f"orderline:{line.pk}:change-credit",
                kind=JournalEntry.Kind.REFUND,
                memo=f"Order {line.order.number}: unused share of {current.plan.code} "
                f"on {profile.iccid}, changed to {plan.code}",
            )
    # A period whose data ran out ends now too (nothing to credit): left running to its old
    # end, auto-renewal would charge for it then.
    profile.bundles.filter(
        status=Bundle.Status.DEPLETED, ends_at__gt=now, starts_at__lt=now
    ).update(status=Bundle.Status.EXPIRED, ends_at=now)
    bundle = Bundle.objects.create(
        profile=profile,
        plan=plan,
        data_allowance_mb=plan.data_mb,
        status=Bundle.Status.ACTIVE,
        starts_at=now,
        ends_at=now + timedelta(days=plan.validity_days),
    )
    queued = list(
        profile.bundles.filter(status=Bundle.Status.QUEUED)
        .order_by("pk")
        .values_list("pk", flat=True)
    )
    if queued:
        Bundle.objects.filter(pk=queued[0]).update(starts_at=bundle.ends_at)
        Bundle.objects.filter(pk__in=queued[1:]).update(starts_at=None)
    return bundle


def _queue_after(profile: EsimProfile) -> dict[str, object]:
    """Where a new bundle goes on a card: after the last one still to run, or now."""
    now = timezone.now()
    last = (
        profile.bundles.filter(status__in=(Bundle.Status.QUEUED, Bundle.Status.ACTIVE))
        .order_by("-pk")
        .first()
    )
    if last is None:
        return {"status": Bundle.Status.QUEUED, "starts_at": None}
    if last.ends_at is not None and last.ends_at > now:
        return {"status": Bundle.Status.QUEUED, "starts_at": last.ends_at}
    # Queued behind a bundle whose start is not known yet: it starts when that one ends.
    return {"status": Bundle.Status.QUEUED, "starts_at": None}


def _cost_post(line: OrderLine, cost: Money, *, credit: str) -> None:
    """Cost of sales for what a line delivered: from stock (eSIMs) or owed to the supplier
    (data bought upstream for an add-on or a renewal)."""
    if cost.amount <= 0:
        return
    currency = str(cost.currency)
    ledger_post(
        lines=[
            Line(system_account_get(purpose=Purpose.COST_OF_SALES, currency=currency), cost),
            Line(system_account_get(purpose=credit, currency=currency), -cost),
        ],
        idempotency_key=f"orderline:{line.pk}:cost:{currency}",
        kind=JournalEntry.Kind.COST_OF_SALE,
        memo=f"Order {line.order.number}: {line.quantity} × {line.plan.code}",
    )


def _enqueue(task_name: str, order_id: int) -> None:
    from billing import tasks

    getattr(tasks, task_name).delay(order_id)


# --- Awaiting stock -----------------------------------------------------------


def orders_awaiting_stock(*, limit: int = 500) -> list[int]:
    return list(
        Order.objects.filter(status=Status.AWAITING_STOCK)
        .order_by("awaiting_stock_since", "pk")
        .values_list("pk", flat=True)[:limit]
    )


def orders_fulfilment_stalled(*, limit: int = 500) -> list[int]:
    """Orders paid more than 5 minutes ago and still not delivered: their fulfilment task was
    lost or ran out of retries."""
    cutoff = timezone.now() - timedelta(minutes=5)
    return list(
        Order.objects.filter(status=Status.PAID, paid_at__lt=cutoff)
        .order_by("paid_at", "pk")
        .values_list("pk", flat=True)[:limit]
    )


def orders_stock_expired(*, limit: int = 500) -> list[int]:
    """Orders that waited for stock longer than SIMDESK_AWAITING_STOCK_HOURS."""
    cutoff = timezone.now() - timedelta(hours=settings.SIMDESK_AWAITING_STOCK_HOURS)
    return list(
        Order.objects.filter(status=Status.AWAITING_STOCK, awaiting_stock_since__lt=cutoff)
        .order_by("awaiting_stock_since", "pk")
        .values_list("pk", flat=True)[:limit]
    )


def order_undelivered_amount(order: Order) -> Money:
    """What the lines not yet delivered cost the customer."""
    total = order.lines.filter(fulfilled_at__isnull=True).aggregate(total=Sum("total"))["total"]
    return order.money(total or Decimal(0))
