"""Reading for the customer's eSIM and card top-up pages: one of their eSIMs, its refunds,
its bundles as a timeline, and a recent purchase of the same plan for the same card (the
repeat guard). Every selector is scoped to the customer."""

from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal
from typing import TYPE_CHECKING, cast

from django.conf import settings
from django.db.models import Prefetch, QuerySet
from django.utils import timezone
from djmoney.money import Money

from billing.models import Order, OrderLine, Refund
from catalog.models import Bundle, CardBinding, EsimProfile, Plan, PlanPrice
from catalog.selectors import card_bindings, customer_esims

if TYPE_CHECKING:
    from accounts.models import User

MB = 1024 * 1024

# An order for the same card and plan in one of these, placed within the repeat window,
# makes the buy page ask before placing another.
REPEAT_STATUSES = (
    Order.Status.PENDING_PAYMENT,
    Order.Status.PAID,
    Order.Status.FULFILLED,
    Order.Status.AWAITING_STOCK,
)


def customer_esim(*, customer: "User", iccid: str) -> EsimProfile | None:
    """The customer's eSIM with this ICCID, or None (not theirs, or no such eSIM)."""
    return customer_esims(customer=customer).filter(iccid=iccid).first()


def esim_refunds(*, customer: "User", profile: EsimProfile) -> QuerySet[Refund]:
    """The refunds of `profile` on the customer's orders, newest first."""
    return Refund.objects.filter(order__customer=customer, profile=profile).order_by(
        "-created_at", "-pk"
    )


def customer_cards(*, customer: "User") -> QuerySet[CardBinding]:
    """The cards kept on the customer's account, with their plan and bundles."""
    return card_bindings(customer=customer).prefetch_related(
        Prefetch("profile__bundles", queryset=Bundle.objects.order_by("created_at", "pk"))
    )


class Phase:
    PAST = "past"
    CURRENT = "current"
    QUEUED = "queued"


@dataclass(frozen=True)
class BundleRow:
    """A bundle as the pages show it: its place in the timeline and the data left."""

    bundle: Bundle
    phase: str

    @property
    def data_left_bytes(self) -> int | None:
        allowance = self.bundle.data_allowance_mb
        if allowance is None:
            return None
        return max(0, allowance * MB - self.bundle.data_used_bytes)


def bundle_timeline(bundles: list[Bundle], current: Bundle | None) -> list[BundleRow]:
    """The card's bundles (in the order they run) tagged past, current or queued."""
    rows = []
    for bundle in bundles:
        if current is not None and bundle.pk == current.pk:
            phase = Phase.CURRENT
        elif bundle.status in (Bundle.Status.QUEUED, Bundle.Status.ACTIVE):
            phase = Phase.QUEUED
        else:
            phase = Phase.PAST
        rows.append(BundleRow(bundle=bundle, phase=phase))
    return rows


def card_expiry(bundles: list[Bundle]) -> datetime | None:
    """When the card's last bundle still to run ends (None: not started yet, or none)."""
    live = [
        b for b in bundles if b.status in (Bundle.Status.QUEUED, Bundle.Status.ACTIVE)
    ] or bundles
    ends = [b.ends_at for b in live if b.ends_at is not None]
    return max(ends) if ends else None


def card_recent_purchase(*, customer: "User", plan: Plan, profile: EsimProfile) -> Order | None:
    """The customer's latest order of `plan` for `profile` placed within
    SIMDESK_REPEAT_PURCHASE_MINUTES and not canceled or refunded, if any."""
    since = timezone.now() - timedelta(minutes=settings.SIMDESK_REPEAT_PURCHASE_MINUTES)
    return (
        Order.objects.filter(
            customer=customer,
            status__in=REPEAT_STATUSES,
            created_at__gte=since,
            lines__plan=plan,
            lines__profile=profile,
            lines__kind__in=(OrderLine.Kind.ADDON, OrderLine.Kind.RENEWAL),
        )
        .order_by("-created_at", "-pk")
        .first()
    )


def renewal_price(*, plan: Plan, currency: str) -> Decimal | None:
    """What renewing a card of `plan` costs in `currency`; None when it cannot be renewed
    (not renewable, not sold any more, or not priced in that currency)."""
    if not plan.renewable or plan.kind == Plan.Kind.TOPUP or not plan.is_active:
        return None
    price = PlanPrice.objects.filter(plan=plan, price_currency=currency).first()
    return None if price is None else cast(Money, price.price).amount
