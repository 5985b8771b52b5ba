"""Auto-renewal: the customer's standing choice per card, and the charge of each period.

A sweep a set time before a period ends opens one Renewal row per (card, period), keyed
`renew:<eSIM>:<period start>` and unique in the database, then fans out one attempt task per
row due. An attempt charges the wallet first (all in one transaction: lock the wallet, then the
renewal; debit; deliver the next bundle) and the saved card second (commit the order and the
payment first, call the gateway with no lock held, then apply its answer under the locks).
A failed attempt is retried after each of SIMDESK_RENEWAL_RETRY_HOURS and the customer is
emailed each time; after the last, auto-renewal is turned off with a final notice.

However many sweeps, duplicate tasks or killed workers: a period is charged at most once. The
row is unique; its status is changed only under its lock; a card charge in flight is resumed
(the gateway's idempotency gives back the same charge), never started again.
"""

import logging
import uuid
from datetime import datetime, timedelta
from functools import partial
from typing import cast

from django.conf import settings
from django.db import transaction
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_noop
from djmoney.money import Money

from accounts.models import User
from billing.exceptions import OrderError, OrderRefused
from billing.gateways import gateway_get
from billing.models import AutoRenewal, LedgerAccount, Order, OrderLine, Payment, Renewal
from billing.models import renewal_key as make_key
from billing.selectors.renewals import periods_due_for_renewal, saved_card
from billing.services.fulfilment import order_fulfil_locked
from billing.services.orders import (
    LineRequest,
    order_cancel_locked,
    order_create,
    order_pay_wallet_locked,
    renewal_check,
)
from billing.services.payments import payment_update_apply
from billing.services.wallets import wallet_get
from catalog.models import Bundle, EsimProfile, Plan, PlanPrice
from catalog.selectors import USABLE_CARD_STATUSES

logger = logging.getLogger(__name__)

Status = Renewal.Status

# Kept in English in the row (staff read it); the customer's email says it in their language.
NO_FUNDS = gettext_noop("Your wallet did not hold enough and no card is saved for renewals.")
NOT_SOLD = gettext_noop("The plan is no longer sold in this currency.")
CARD_DECLINED = gettext_noop("Your saved card was declined.")
REQUEST_NAMESPACE = uuid.UUID("7c4e2d61-3f0a-4a57-9d1c-5b8e2a1f6c90")


# --- The customer's choice --------------------------------------------------------------


@transaction.atomic
def auto_renewal_set(
    *, customer: User, profile: EsimProfile, plan: Plan, currency: str
) -> AutoRenewal:
    """Turn on auto-renewal of the customer's card, to `plan`, paid in `currency`."""
    if profile.owner_id != customer.pk or profile.status not in USABLE_CARD_STATUSES:
        raise OrderRefused(_("This card has expired or was voided; it cannot be renewed."))
    renewal_check(plan=plan, profile=profile)
    if (
        not plan.is_active
        or not PlanPrice.objects.filter(plan=plan, price_currency=currency).exists()
    ):
        raise OrderRefused(
            _("%(plan)s is not sold in %(currency)s.")
            % {"plan": plan.display_name, "currency": currency}
        )
    auto, _created = AutoRenewal.objects.update_or_create(
        profile=profile,
        defaults={
            "customer": customer,
            "plan": plan,
            "currency": currency,
            "enabled": True,
            "disabled_reason": "",
        },
    )
    # A period near its end that was given up on (auto-renewal was off when it came due, or
    # the last retry failed) is tried again, and a period not yet charged renews to the new
    # choice. Attempts are kept: their orders stay canceled, and one more failure is final.
    now = timezone.now()
    recent = Renewal.objects.filter(
        profile=profile,
        payment__isnull=True,
        period_start__gt=now - timedelta(hours=settings.SIMDESK_RENEWAL_LEAD_HOURS),
    )
    recent.filter(status=Status.DUE, currency=currency).update(plan=plan)
    recent.filter(status__in=(Status.SKIPPED, Status.FAILED)).update(
        plan=plan, currency=currency, status=Status.DUE, next_attempt_at=now, finished_at=None
    )
    return auto


def auto_renewal_disable(*, customer: User, profile: EsimProfile, reason: str = "") -> int:
    """Turn auto-renewal of the customer's card off; a period already charged stays."""
    return AutoRenewal.objects.filter(profile=profile, customer=customer, enabled=True).update(
        enabled=False, disabled_reason=reason, updated_at=timezone.now()
    )


# --- The sweep ---------------------------------------------------------------------------


def renewals_open(*, now: datetime | None = None) -> int:
    """One Renewal row per card period due for auto-renewal; a row already there (a second
    sweep, a second beat) is left as it is. Returns how many periods were due."""
    now = now or timezone.now()
    periods = periods_due_for_renewal(now=now).values_list(
        "profile_id",
        "ends_at",
        "profile__auto_renewal__plan_id",
        "profile__auto_renewal__currency",
        "profile__auto_renewal__customer_id",
    )
    rows = [
        Renewal(
            key=make_key(profile_id, cast(datetime, ends_at)),
            profile_id=profile_id,
            period_start=cast(datetime, ends_at),
            plan_id=plan_id,
            currency=currency,
            customer_id=customer_id,
            next_attempt_at=now,
        )
        for profile_id, ends_at, plan_id, currency, customer_id in periods.iterator()
    ]
    for start in range(0, len(rows), 2000):
        Renewal.objects.bulk_create(rows[start : start + 2000], ignore_conflicts=True)
    return len(rows)


def renewals_due(*, now: datetime | None = None, limit: int = 50_000) -> list[int]:
    """Renewals whose next attempt is due."""
    now = now or timezone.now()
    return list(
        Renewal.objects.filter(status=Status.DUE, next_attempt_at__lte=now)
        .order_by("next_attempt_at", "pk")
        .values_list("pk", flat=True)[:limit]
    )


# --- One attempt ---------------------------------------------------------------------------


def renewal_attempt(*, renewal_id: int) -> Renewal:
    """Charge the renewal's period: the wallet if it holds enough, else the saved card.
    Safe to run twice, at once or after a worker died at any point."""
    payment = _attempt_begin(renewal_id)
    if payment is not None:
        # A GatewayError (unreachable, refused for a reason of its own) leaves the payment
        # open: the next run (the task's retry, or the sweep) resumes this same charge.
        update = gateway_get(payment.gateway).saved_method_charge(
            payment=payment,
            customer=payment.customer,
            customer_id=payment.gateway_customer_id,
            method_id=payment.gateway_method_id,
        )
        payment_update_apply(payment=payment, update=update)
        _attempt_finish(renewal_id)
    return Renewal.objects.get(pk=renewal_id)


def _lock(renewal_id: int) -> tuple[Renewal, LedgerAccount]:
    """Lock the customer's wallet, then the renewal: billing's lock order."""
    customer_id, currency = Renewal.objects.values_list("customer_id", "currency").get(
        pk=renewal_id
    )
    wallet = wallet_get(user=User(pk=customer_id), currency=currency)
    wallet = LedgerAccount.objects.select_for_update().get(pk=wallet.pk)
    renewal = (
        Renewal.objects.select_for_update(of=("self",))
        .select_related("plan", "profile", "profile__plan", "customer", "payment")
        .get(pk=renewal_id)
    )
    return renewal, wallet


@transaction.atomic(durable=True)
def _attempt_begin(renewal_id: int) -> Payment | None:
    """Under the locks: finish what can be finished here and return the card payment to
    charge, if the wallet could not pay."""
    renewal, wallet = _lock(renewal_id)
    now = timezone.now()
    if renewal.status != Status.DUE:
        return None
    if renewal.payment is not None:
        # A card charge began before: resume it (or settle what it came to), never start another.
        if renewal.payment.is_open:
            return renewal.payment
        _card_settled(renewal)
        return None
    if renewal.next_attempt_at > now:
        return None
    reason = _not_needed(renewal)
    if reason:
        renewal.status = Status.SKIPPED
        renewal.last_error = reason
        renewal.finished_at = now
        renewal.save(update_fields=["status", "last_error", "finished_at"])
        return None
    price = PlanPrice.objects.filter(plan=renewal.plan, price_currency=renewal.currency).first()
    if price is None or not renewal.plan.is_active:
        _failed(renewal, NOT_SOLD, final=True)
        return None
    amount = cast(Money, price.price)
    try:
        order = order_create(
            customer=renewal.customer,
            currency=renewal.currency,
            lines=[
                LineRequest(kind=OrderLine.Kind.RENEWAL, plan=renewal.plan, profile=renewal.profile)
            ],
            request_token=uuid.uuid5(REQUEST_NAMESPACE, f"{renewal.key}:{renewal.attempts}"),
        )
    except OrderError as refused:
        _failed(renewal, str(refused)[:255], final=True)
        return None
    if wallet.balance >= amount.amount:
        order_pay_wallet_locked(order, wallet, idempotency_key=renewal.key)
        _succeeded(renewal, order, Renewal.PaidWith.WALLET)
        return None
    card = saved_card(customer=renewal.customer)
    if card is None:
        order_cancel_locked(order)
        _failed(renewal, NO_FUNDS)
        return None
    payment = Payment.objects.create(
        customer=renewal.customer,
        purpose=Payment.Purpose.ORDER,
        order=order,
        amount=order.total,
        currency=order.currency,
        method=Payment.Method.CARD,
        gateway=card.gateway,
        gateway_customer_id=card.customer_id,
        gateway_method_id=card.method_id,
        request_token=uuid.uuid5(REQUEST_NAMESPACE, f"{renewal.key}:{renewal.attempts}:card"),
    )
    renewal.order = order
    renewal.payment = payment
    renewal.save(update_fields=["order", "payment"])
    return payment


@transaction.atomic(durable=True)
def _attempt_finish(renewal_id: int) -> None:
    renewal, _wallet = _lock(renewal_id)
    if renewal.status == Status.DUE and renewal.payment is not None:
        renewal.payment.refresh_from_db()
        if not renewal.payment.is_open:
            _card_settled(renewal)


def _card_settled(renewal: Renewal) -> None:
    """The card payment of this attempt is closed: a capture renews, a decline fails."""
    payment = renewal.payment
    assert payment is not None and renewal.order_id is not None
    order = Order.objects.select_for_update().get(pk=renewal.order_id)
    if payment.is_captured and order.payment_id == payment.pk:
        order_fulfil_locked(order)  # the capture enqueued it too; the second run adds nothing
        _succeeded(renewal, order, Renewal.PaidWith.CARD)
        return
    # Declined, or captured after the order had closed (then the money went to the wallet,
    # and the next attempt takes it from there).
    order_cancel_locked(order)
    renewal.payment = None
    _failed(renewal, payment.failure_message[:255] or CARD_DECLINED)


def _not_needed(renewal: Renewal) -> str:
    """Why the period needs no charge any more, or ""."""
    profile = renewal.profile
    auto = AutoRenewal.objects.filter(profile=profile).first()
    if auto is None or not auto.enabled:
        return "auto-renewal was turned off"
    if profile.status not in USABLE_CARD_STATUSES:
        return "the card has expired or was voided"
    # A period queued after this one, or a running one lasting past its start (a plan change).
    covered = (
        Bundle.objects.filter(profile=profile)
        .filter(
            Q(status=Bundle.Status.QUEUED)
            | Q(
                status__in=(Bundle.Status.ACTIVE, Bundle.Status.DEPLETED),
                ends_at__gt=renewal.period_start,
            )
        )
        .exists()
    )
    return "the period was already renewed" if covered else ""


def _succeeded(renewal: Renewal, order: Order, paid_with: str) -> None:
    renewal.status = Status.SUCCEEDED
    renewal.order = order
    renewal.paid_with = paid_with
    renewal.attempts += 1
    renewal.last_error = ""
    renewal.finished_at = timezone.now()
    renewal.save()


def _failed(renewal: Renewal, message: str, *, final: bool = False) -> None:
    """Record a failed attempt: retry after the next delay, or give up, turn auto-renewal off
    and send the final notice. The customer is emailed either way, after commit."""
    retries = settings.SIMDESK_RENEWAL_RETRY_HOURS
    now = timezone.now()
    renewal.attempts += 1
    renewal.last_error = message[:255]
    if not final and renewal.attempts <= len(retries):
        renewal.next_attempt_at = now + timedelta(hours=retries[renewal.attempts - 1])
    else:
        renewal.status = Status.FAILED
        renewal.finished_at = now
        AutoRenewal.objects.filter(profile_id=renewal.profile_id).update(
            enabled=False, disabled_reason=message[:255], updated_at=now
        )
    renewal.save()
    transaction.on_commit(partial(_notice_enqueue, renewal.pk))


def _notice_enqueue(renewal_id: int) -> None:
    from billing.tasks import renewal_notice_send_task

    renewal_notice_send_task.delay(renewal_id)
