"""Reading orders for the customer's own pages: the plan being bought, their orders, one order
with its lines, deliveries, refunds and payments, and a receipt.

Every order selector is scoped to the customer: another customer's order is simply not found.
Each returns the joins its page needs, so a page's query count does not grow with its lines.
"""

from typing import TYPE_CHECKING
from uuid import UUID

from django.db.models import Prefetch, QuerySet

from billing.models import Delivery, Order, OrderLine, Payment, Refund
from catalog.models import Plan

if TYPE_CHECKING:
    from accounts.models import User


def plan_on_sale(*, code: str) -> Plan | None:
    """An active plan a customer can buy as a new eSIM (not an add-on), with its region and
    prices; None when there is none with this code."""
    return (
        Plan.objects.filter(code=code, is_active=True)
        .exclude(kind=Plan.Kind.TOPUP)
        .select_related("region")
        .prefetch_related("prices")
        .first()
    )


def _lines() -> Prefetch:
    return Prefetch(
        "lines",
        queryset=OrderLine.objects.select_related("plan", "plan__region", "profile").order_by("pk"),
    )


def customer_orders(*, user: "User") -> QuerySet[Order]:
    """The customer's orders in every status, newest first, with their lines."""
    return (
        Order.objects.filter(customer=user)
        .prefetch_related(_lines())
        .order_by("-created_at", "-id")
    )


def customer_order(*, user: "User", public_id: UUID) -> Order | None:
    """One of the customer's orders with everything its page shows: lines, what each line
    delivered, the coupon, the paying payment, refunds. None when not theirs."""
    return (
        Order.objects.filter(customer=user, public_id=public_id)
        .select_related("coupon", "payment", "customer")
        .prefetch_related(
            _lines(),
            Prefetch(
                "lines__deliveries",
                queryset=Delivery.objects.select_related("profile", "bundle").order_by("pk"),
            ),
            Prefetch("refunds", queryset=Refund.objects.order_by("created_at", "pk")),
        )
        .first()
    )


def customer_order_receipt(*, user: "User", public_id: UUID) -> Order | None:
    """A paid order (paid, delivered, waiting for stock or refunded) for its receipt."""
    order = customer_order(user=user, public_id=public_id)
    return order if order is not None and order.is_paid else None


def order_open_payment(*, order: Order) -> Payment | None:
    """The order's latest gateway payment still waiting for the gateway's word, if any."""
    return (
        Payment.objects.filter(order=order, status__in=Payment.OPEN)
        .order_by("-created_at", "-id")
        .first()
    )


def order_last_payment(*, order: Order) -> Payment | None:
    """The order's latest gateway payment in any status (to say a card was declined)."""
    return Payment.objects.filter(order=order).order_by("-created_at", "-id").first()
