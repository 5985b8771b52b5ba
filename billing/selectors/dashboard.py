"""Figures for the staff console's index: sales per currency, and the work waiting for staff
(orders awaiting stock, low stock, stuck payments, failed renewals, open support requests).

Each selector runs a fixed number of queries, however many orders, plans or currencies
there are: sales are one aggregate per source, grouped by currency, with one filtered sum per
window; each backlog is a count and its oldest few rows.
"""

import datetime
from dataclasses import dataclass
from decimal import Decimal
from typing import Generic, TypeVar

from django.db.models import Aggregate, Case, Count, F, IntegerField, Q, QuerySet, Sum, Value, When
from django.utils import timezone

from billing.models import Order, Payment, Refund, Renewal, SupportRequest
from billing.selectors.reports import day_start
from catalog.models import Plan
from catalog.selectors import plans_with_stock

T = TypeVar("T")

# The sales windows, in whole days of the shop's time zone ending today.
SALES_WINDOWS = (("today", 1), ("week", 7), ("month", 30))
# How long a gateway payment may stay open before staff should look at it.
PAYMENT_STUCK_AFTER = datetime.timedelta(minutes=10)
# How far back failed renewals are shown.
FAILED_RENEWALS_SINCE = datetime.timedelta(days=7)
BACKLOG_ROWS = 5
STOCK_ROWS = 15

# Stock levels, in the order the dashboard lists them.
STOCK_OUT, STOCK_LOW, STOCK_OK = 0, 1, 2


@dataclass(frozen=True)
class Figure:
    """How many and how much, in one currency."""

    count: int
    amount: Decimal
    currency: str


@dataclass(frozen=True)
class SalesRow:
    """One currency's figures for today, the last 7 days and the last 30 days."""

    currency: str
    today: Figure
    week: Figure
    month: Figure

    @property
    def figures(self) -> tuple[Figure, Figure, Figure]:
        return (self.today, self.week, self.month)


@dataclass(frozen=True)
class Backlog(Generic[T]):
    """How many things wait, and the oldest few of them."""

    count: int
    oldest: list[T]


@dataclass(frozen=True)
class StockSummary:
    """Active plans' stock, the emptiest first, and how many are out or low overall."""

    plans: list[Plan]
    out_count: int
    low_count: int


def sales_window_starts(*, now: datetime.datetime | None = None) -> dict[str, datetime.datetime]:
    """Where each window starts: today's midnight in the shop's time zone, and 6 and 29 days
    before it (so "7 days" is today and the 6 days before)."""
    now = now or timezone.now()
    midnight = day_start(timezone.localdate(now))
    return {name: midnight - datetime.timedelta(days=days - 1) for name, days in SALES_WINDOWS}


def _windowed(
    queryset: QuerySet, *, at: str, amount: str, now: datetime.datetime | None
) -> list[SalesRow]:
    """Count and sum `amount` per currency for each window, `at` being the time field."""
    starts = sales_window_starts(now=now)
    aggregates: dict[str, Aggregate] = {}
    for name, start in starts.items():
        in_window = Q(**{f"{at}__gte": start})
        aggregates[f"{name}_count"] = Count("pk", filter=in_window)
        aggregates[f"{name}_amount"] = Sum(amount, filter=in_window)
    rows = (
        queryset.filter(**{f"{at}__gte": min(starts.values())})
        .values("currency")
        .annotate(**aggregates)
        .order_by("currency")
    )
    return [
        SalesRow(
            currency=row["currency"],
            **{
                name: Figure(
                    count=row[f"{name}_count"],
                    amount=row[f"{name}_amount"] or Decimal(0),
                    currency=row["currency"],
                )
                for name in starts
            },
        )
        for row in rows
    ]


def sales_paid_orders(*, now: datetime.datetime | None = None) -> list[SalesRow]:
    """Orders paid in each window (by when they were paid), their count and total, per
    currency. A later refund does not take an order out: refunds are counted on their own."""
    return _windowed(
        Order.objects.filter(status__in=Order.PAID_STATUSES, paid_at__isnull=False),
        at="paid_at",
        amount="total",
        now=now,
    )


def sales_refunds(*, now: datetime.datetime | None = None) -> list[SalesRow]:
    """Refunds completed in each window, per currency."""
    return _windowed(
        Refund.objects.filter(status=Refund.Status.COMPLETED, completed_at__isnull=False),
        at="completed_at",
        amount="amount",
        now=now,
    )


def sales_wallet_topups(*, now: datetime.datetime | None = None) -> list[SalesRow]:
    """Wallet top-ups captured in each window (by when they settled), per currency; the
    amount paid, without promotional bonus."""
    return _windowed(
        Payment.objects.filter(
            purpose=Payment.Purpose.WALLET_TOPUP,
            status__in=Payment.CAPTURED,
            settled_at__isnull=False,
        ),
        at="settled_at",
        amount="amount",
        now=now,
    )


def _backlog(queryset: QuerySet, *, limit: int = BACKLOG_ROWS) -> Backlog:
    return Backlog(count=queryset.count(), oldest=list(queryset[:limit]))


def orders_awaiting_stock(*, limit: int = BACKLOG_ROWS) -> Backlog[Order]:
    """Paid orders waiting for profiles to arrive, the longest-waiting first."""
    return _backlog(
        Order.objects.filter(status=Order.Status.AWAITING_STOCK)
        .select_related("customer")
        .order_by("awaiting_stock_since", "pk"),
        limit=limit,
    )


def payments_stuck(
    *, now: datetime.datetime | None = None, limit: int = BACKLOG_ROWS
) -> Backlog[Payment]:
    """Payments still open (created or processing) more than 10 minutes after they began."""
    before = (now or timezone.now()) - PAYMENT_STUCK_AFTER
    return _backlog(
        Payment.objects.filter(status__in=Payment.OPEN, created_at__lt=before)
        .select_related("customer")
        .order_by("created_at", "pk"),
        limit=limit,
    )


def renewals_failed(
    *, now: datetime.datetime | None = None, limit: int = BACKLOG_ROWS
) -> Backlog[Renewal]:
    """Renewals that failed in the last 7 days, the most recent first."""
    since = (now or timezone.now()) - FAILED_RENEWALS_SINCE
    return _backlog(
        Renewal.objects.filter(status=Renewal.Status.FAILED, finished_at__gte=since)
        .select_related("customer", "plan", "profile")
        .order_by("-finished_at", "-pk"),
        limit=limit,
    )


def support_requests_open(*, limit: int = BACKLOG_ROWS) -> Backlog[SupportRequest]:
    """Support requests nobody has answered yet, the oldest first."""
    return _backlog(
        SupportRequest.objects.filter(status=SupportRequest.Status.OPEN).order_by(
            "created_at", "pk"
        ),
        limit=limit,
    )


def plans_stock(*, limit: int = STOCK_ROWS) -> StockSummary:
    """Active plans sold as eSIMs with their available stock and level (stock_level: out,
    low, or ok), out of stock first, then low, then the fewest available.

    Low means fewer available than the plan's low-stock threshold (0: no threshold), the
    rule the low-stock email uses. Add-ons are left out: they carry no profiles.
    """
    plans = plans_with_stock(Plan.objects.filter(is_active=True).exclude(kind=Plan.Kind.TOPUP))
    plans = plans.annotate(
        stock_level=Case(
            When(stock_available=0, then=Value(STOCK_OUT)),
            When(
                low_stock_threshold__gt=0,
                stock_available__lt=F("low_stock_threshold"),
                then=Value(STOCK_LOW),
            ),
            default=Value(STOCK_OK),
            output_field=IntegerField(),
        )
    )
    counts = plans.aggregate(
        out_count=Count("pk", filter=Q(stock_level=STOCK_OUT)),
        low_count=Count("pk", filter=Q(stock_level=STOCK_LOW)),
    )
    return StockSummary(
        plans=list(plans.order_by("stock_level", F("stock_available"), "name", "pk")[:limit]),
        out_count=counts["out_count"],
        low_count=counts["low_count"],
    )
