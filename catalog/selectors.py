"""Reads on the catalog. Querysets carry the joins and aggregates their callers need."""

from django.db.models import Count, Q, QuerySet

from .models import EsimProfile, Plan

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
