"""Reads on the catalog. Querysets carry the joins and aggregates their callers need."""

from django.db.models import Count, Min, Prefetch, Q, QuerySet
from django.utils import timezone

from accounts.models import User
from catalog.exceptions import MSG_CARD_ENDED, MSG_CARD_UNKNOWN, CardUnavailable
from catalog.models import Bundle, CardBinding, EsimProfile, Plan

Status = EsimProfile.Status
SOLD_STATUSES = (Status.ASSIGNED, Status.INSTALLED, Status.EXPIRED)


def plans_with_stock(queryset: QuerySet[Plan] | None = None) -> QuerySet[Plan]:
    """Plans annotated with stock_available, stock_reserved and stock_sold in one query."""
    queryset = Plan.objects.all() if queryset is None else queryset
    return queryset.select_related("region").annotate(
        stock_available=Count("profiles", filter=Q(profiles__status=Status.AVAILABLE)),
        stock_reserved=Count("profiles", filter=Q(profiles__status=Status.RESERVED)),
        stock_sold=Count("profiles", filter=Q(profiles__status__in=SOLD_STATUSES)),
    )


def plans_offered(*, currency: str) -> QuerySet[Plan]:
    """Active plans with a price in `currency`: a plan with no price there is not offered."""
    return (
        Plan.objects.filter(is_active=True, prices__price_currency=currency)
        .select_related("region")
        .distinct()
    )


USABLE_CARD_STATUSES = (Status.ASSIGNED, Status.INSTALLED)
LIVE_BUNDLE_STATUSES = (Bundle.Status.QUEUED, Bundle.Status.ACTIVE)


def card_get(*, iccid: str) -> EsimProfile:
    """The sold card with this (normalized) ICCID, with its plan; CardUnavailable otherwise."""
    profile = (
        EsimProfile.objects.select_related("plan", "plan__region")
        .filter(iccid=iccid, status__in=SOLD_STATUSES)
        .first()
    )
    if profile is None:
        raise CardUnavailable(MSG_CARD_UNKNOWN)
    if profile.status not in USABLE_CARD_STATUSES:
        raise CardUnavailable(MSG_CARD_ENDED)
    return profile


def card_bundles(*, profile: EsimProfile) -> list[Bundle]:
    """The card's bundles in the order they run: past, current, then queued."""
    return list(profile.bundles.select_related("plan").order_by("created_at", "pk"))


def card_current_bundle(bundles: list[Bundle]) -> Bundle | None:
    """The bundle running now, or else the next one queued."""
    active = [b for b in bundles if b.status == Bundle.Status.ACTIVE]
    if active:
        return active[-1]
    queued = [b for b in bundles if b.status == Bundle.Status.QUEUED]
    return queued[0] if queued else None


def card_addons(*, profile: EsimProfile, currency: str) -> QuerySet[Plan]:
    """Active add-ons that fit the card's plan and are priced in `currency`, cheapest first."""
    return (
        Plan.objects.filter(
            kind=Plan.Kind.TOPUP,
            is_active=True,
            fits=profile.plan_id,
            prices__price_currency=currency,
        )
        .annotate(price_amount=Min("prices__price", filter=Q(prices__price_currency=currency)))
        .order_by("price_amount", "code")
    )


def card_bindings(*, customer: User) -> QuerySet[CardBinding]:
    return CardBinding.objects.filter(customer=customer).select_related(
        "profile", "profile__plan", "profile__plan__region"
    )


def customer_esims(*, customer: User) -> QuerySet[EsimProfile]:
    """The customer's eSIMs, newest first, with their plan and bundles."""
    return (
        EsimProfile.objects.filter(owner=customer, status__in=(*SOLD_STATUSES, Status.VOID))
        .select_related("plan", "plan__region")
        .prefetch_related(
            Prefetch("bundles", queryset=Bundle.objects.select_related("plan").order_by("pk"))
        )
        .order_by("-pk")
    )


def bundle_to_extend(profile: EsimProfile) -> Bundle | None:
    """The bundle an "extend" add-on adds its data to: the latest one not yet over, if it has
    a data allowance (an unlimited plan takes no data add-on)."""
    now = timezone.now()
    for bundle in profile.bundles.order_by("-pk"):
        if bundle.status == Bundle.Status.EXPIRED or (bundle.ends_at and bundle.ends_at <= now):
            continue
        return bundle if bundle.data_allowance_mb is not None else None
    return None


def plans_featured(*, currency: str, limit: int) -> list[Plan]:
    """Active eSIM plans (not add-ons) priced in `currency`, cheapest first, each with its
    `price_amount`: the home page's first list."""
    return list(
        plans_offered(currency=currency)
        .exclude(kind=Plan.Kind.TOPUP)
        .annotate(price_amount=Min("prices__price", filter=Q(prices__price_currency=currency)))
        .order_by("price_amount", "code")[:limit]
    )
