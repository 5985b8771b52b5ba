"""Reading support requests for the customer's pages and the contact form's choices. Scoped
to the customer: another customer's request, order or payment is simply not found."""

from typing import TYPE_CHECKING
from uuid import UUID

from django.db.models import QuerySet

from billing.models import Order, Payment, SupportRequest
from billing.selectors.orders import customer_orders
from billing.selectors.payments import customer_topups

if TYPE_CHECKING:
    from accounts.models import User

# How many recent orders and top-ups the contact form offers.
SUBJECT_CHOICES = 50


def customer_support_requests(*, user: "User") -> QuerySet[SupportRequest]:
    """The customer's requests, newest first, with the order or payment they are about."""
    return (
        SupportRequest.objects.filter(customer=user)
        .select_related("order", "payment")
        .order_by("-created_at", "-id")
    )


def customer_support_request(*, user: "User", public_id: UUID) -> SupportRequest | None:
    return customer_support_requests(user=user).filter(public_id=public_id).first()


def support_subjects(*, user: "User") -> tuple[list[Order], list[Payment]]:
    """The customer's recent orders and wallet top-ups a request can be about (two queries)."""
    orders = list(customer_orders(user=user).prefetch_related(None)[:SUBJECT_CHOICES])
    topups = list(customer_topups(user=user).select_related(None)[:SUBJECT_CHOICES])
    return orders, topups
