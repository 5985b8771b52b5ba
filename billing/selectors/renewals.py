"""Reading for renewals: what a plan change gives back, the card an auto-renewal may charge,
the plans a card may renew or change to, and the periods and reminders that are due."""

import math
from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal
from fractions import Fraction
from typing import cast

from django.conf import settings
from django.db.models import BigIntegerField, Exists, F, Min, OuterRef, Q, QuerySet
from django.db.models.functions import Cast
from django.utils import timezone
from djmoney.money import Money

from accounts.models import User
from billing.gateways import checkout_gateway
from billing.models import AutoRenewal, Delivery, Payment, Reminder
from billing.money import quantum
from catalog.models import MB, Bundle, EsimProfile, Plan
from catalog.selectors import USABLE_CARD_STATUSES

Kind = Reminder.Kind

# Days before a period ends at which each reminder goes out, by the card's kind of plan.
EXPIRY_REMINDERS: dict[bool, tuple[tuple[int, str], ...]] = {
    True: ((1, Kind.EXPIRY_1D), (7, Kind.EXPIRY_7D), (30, Kind.EXPIRY_30D)),  # number keeping
    False: ((1, Kind.EXPIRY_1D), (3, Kind.EXPIRY_3D)),
}


@dataclass(frozen=True)
class SavedCard:
    gateway: str
    customer_id: str
    method_id: str


def saved_card(*, customer: User) -> SavedCard | None:
    """The card the customer's latest captured card payment saved for off-session charges,
    on the gateway in use now; None when there is none."""
    gateway = checkout_gateway().name
    payment = (
        Payment.objects.filter(
            customer=customer,
            gateway=gateway,
            # Alipay and WeChat Pay save nothing for later; the sandbox stands in for a card.
            method__in=(Payment.Method.CARD, Payment.Method.SANDBOX),
            status__in=Payment.CAPTURED,
        )
        .exclude(gateway_method_id="")
        .exclude(gateway_customer_id="")
        .order_by("-settled_at", "-pk")
        .only("gateway_customer_id", "gateway_method_id")
        .first()
    )
    if payment is None:
        return None
    return SavedCard(gateway, payment.gateway_customer_id, payment.gateway_method_id)


def renewal_plans(*, profile: EsimProfile, currency: str) -> QuerySet[Plan]:
    """Plans a card may renew or change to: active, renewable, for the same coverage as the
    card's plan, priced in `currency`; each with `price_amount`, cheapest first."""
    plan = profile.plan
    return (
        Plan.objects.filter(
            is_active=True,
            renewable=True,
            country=plan.country,
            region=plan.region,
            prices__price_currency=currency,
        )
        .exclude(kind=Plan.Kind.TOPUP)
        .annotate(price_amount=Min("prices__price", filter=Q(prices__price_currency=currency)))
        .order_by("price_amount", "code")
    )


def card_running_bundle(profile: EsimProfile) -> Bundle | None:
    return (
        profile.bundles.filter(status=Bundle.Status.ACTIVE)
        .select_related("plan")
        .order_by("-pk")
        .first()
    )


def bundle_unused_share(bundle: Bundle, now: datetime) -> Fraction:
    """The unused share of a running bundle, 0 to 1: by days left or by data left, whichever
    is smaller. Exact (a fraction of whole microseconds and bytes): 20 days left of 30 is 2/3,
    so 2/3 of 30.00 is 20.00, not 19.99."""
    if bundle.starts_at is None or bundle.ends_at is None or bundle.ends_at <= now:
        return Fraction(0)
    total = (bundle.ends_at - bundle.starts_at) // timedelta(microseconds=1)
    left = max(0, (bundle.ends_at - now) // timedelta(microseconds=1))
    share = Fraction(left, total)
    if bundle.data_allowance_mb:
        allowance = bundle.data_allowance_mb * MB
        share = min(share, Fraction(max(0, allowance - bundle.data_used_bytes), allowance))
    return max(Fraction(0), min(Fraction(1), share))


def plan_change_credit(*, bundle: Bundle | None, now: datetime | None = None) -> Money | None:
    """What a plan change starting now gives back for `bundle`: its unused share of what the
    customer paid for it, rounded down, in the currency they paid. None when nothing was paid
    for it through an order (a gift, demo data)."""
    if bundle is None:
        return None
    delivery = Delivery.objects.filter(bundle=bundle).select_related("line", "line__order").first()
    if delivery is None:
        return None
    line = delivery.line
    currency = line.order.currency
    step = quantum(currency)
    share = bundle_unused_share(bundle, now or timezone.now())
    # Rounded down to the currency's minor unit, exactly: floor(paid × share / step) × step.
    steps = Fraction(line.total) * share / (Fraction(step) * line.quantity)
    return Money(Decimal(math.floor(steps)) * step, currency)


def auto_renewal_of(*, profile: EsimProfile) -> AutoRenewal | None:
    return AutoRenewal.objects.filter(profile=profile).select_related("plan").first()


# --- What the sweeps pick up ----------------------------------------------------------


def _nothing_queued() -> Exists:
    return Exists(Bundle.objects.filter(profile=OuterRef("profile"), status=Bundle.Status.QUEUED))


def periods_due_for_renewal(*, now: datetime) -> QuerySet[Bundle]:
    """Running bundles of cards with auto-renewal on that end within
    SIMDESK_RENEWAL_LEAD_HOURS, with no period queued after them."""
    lead = now + timedelta(hours=settings.SIMDESK_RENEWAL_LEAD_HOURS)
    return (
        Bundle.objects.filter(
            status__in=(Bundle.Status.ACTIVE, Bundle.Status.DEPLETED),
            ends_at__gt=now - timedelta(hours=settings.SIMDESK_RENEWAL_LEAD_HOURS),
            ends_at__lte=lead,
            profile__auto_renewal__enabled=True,
            profile__status__in=USABLE_CARD_STATUSES,
        )
        .filter(~_nothing_queued())
        .order_by("ends_at", "pk")
    )


def expiry_reminders_due(*, now: datetime) -> list[tuple[int, str]]:
    """(bundle id, reminder kind) for each card whose running period ends within a reminder's
    days with nothing queued after it, and whose reminder of that kind was not sent. Only the
    nearest kind: a period bought with 2 days left gets the 1-day reminder, not the 3-day too."""
    horizon = now + timedelta(days=30)
    bundles = (
        Bundle.objects.filter(
            status__in=(Bundle.Status.ACTIVE, Bundle.Status.DEPLETED),
            ends_at__gt=now,
            ends_at__lte=horizon,
            profile__status__in=USABLE_CARD_STATUSES,
        )
        .filter(~_nothing_queued())
        .values_list("pk", "ends_at", "profile__plan__kind")
    )
    bundles_sent: dict[int, set[str]] = {}
    rows = list(bundles)
    for bundle_id, kind in Reminder.objects.filter(
        bundle_id__in=[r[0] for r in rows], kind__startswith="expiry"
    ).values_list("bundle_id", "kind"):
        bundles_sent.setdefault(bundle_id, set()).add(kind)
    due = []
    for bundle_id, ends_at, plan_kind in rows:
        left = cast(datetime, ends_at) - now
        for days, kind in EXPIRY_REMINDERS[plan_kind == Plan.Kind.NUMBER_KEEPING]:
            if left <= timedelta(days=days):
                if kind not in bundles_sent.get(bundle_id, set()):
                    due.append((bundle_id, kind))
                break
    return due


def usage_notices_due() -> list[int]:
    """Bundles at 80% or more of their data still running or just used up, whose notice is
    missing (its task was lost): the sweep sends it."""
    # In whole numbers, as usage_notices_send counts: used * 10 >= allowance * 8.
    at_80 = Q(used_tenths__gte=F("allowance_bytes") * 8)
    full = Q(data_used_bytes__gte=F("allowance_bytes"))
    has_80 = Exists(Reminder.objects.filter(bundle=OuterRef("pk"), kind=Kind.USAGE_80))
    has_100 = Exists(Reminder.objects.filter(bundle=OuterRef("pk"), kind=Kind.USAGE_100))
    return list(
        Bundle.objects.filter(
            status__in=(Bundle.Status.ACTIVE, Bundle.Status.DEPLETED),
            data_allowance_mb__isnull=False,
        )
        .annotate(
            allowance_bytes=Cast("data_allowance_mb", BigIntegerField()) * MB,
            used_tenths=F("data_used_bytes") * 10,
        )
        .filter((at_80 & ~has_80 & ~has_100) | (full & ~has_100))
        .values_list("pk", flat=True)[:1000]
    )
